package signers

import (
	"context"
	"hash/maphash"
	"time"

	"github.com/caddy-presign/presign/signers/internal/slotcache"
)

// Existence answers check_exists for the rules of one profile: its Store's
// Exists behind the one cache of existence checks, so that a kind
// implements the check alone. Answers, "exists" and "does not", are
// remembered, each for the window of the rule that asks (an answer given
// less than window before now is taken from the cache); a failure is an
// error, never "does not exist", and is never remembered.
//
// The cache is a slotcache.Cache hashed by key, whose entries say when
// the store was asked. Unlike the URL caches, it stores every answer at
// once: an answer costs a request to the store, not a signature, and a
// key asked once is worth remembering for its window (a page of links, a
// download retried). A hit is two atomic loads and a comparison, without
// allocation or lock.
type Existence struct {
	store Store
	cache slotcache.Cache[existsEntry]
}

// existsEntry is one answer of the store.
type existsEntry struct {
	key    string
	exists bool
	at     int64 // when the store was asked, Unix nanoseconds
}

// NewExistence returns the existence checks of the profile whose Store is
// s, with an empty cache: one per profile, which its rules share.
func NewExistence(s Store) *Existence {
	e := &Existence{store: s}
	e.cache.Init()
	return e
}

// Exists tells whether the object key exists at now (the handler's clock):
// from an answer of the store given less than window before now, or else
// from the store, whose answer it remembers. A failure is a *StoreError
// (see Store), never false.
func (e *Existence) Exists(ctx context.Context, key string, now time.Time, window time.Duration) (bool, error) {
	h := e.hash(key)
	if c := e.lookup(h, key, now.UnixNano(), int64(window)); c != nil {
		return c.exists, nil
	}
	exists, err := e.store.Exists(ctx, key)
	if err != nil {
		return false, err
	}
	e.cache.Store(h, &existsEntry{key: key, exists: exists, at: now.UnixNano()})
	return exists, nil
}

func (e *Existence) hash(key string) uint64 {
	return e.cache.Finish(maphash.String(e.cache.Seed, key))
}

// lookup returns the answer for key in h's slot if it was given less than
// window nanoseconds before now, or nil. A clock that went back makes no
// entry younger than it is.
func (e *Existence) lookup(h uint64, key string, now, window int64) *existsEntry {
	c, _ := e.cache.Find(h, func(c *existsEntry) bool {
		age := now - c.at
		return c.key == key && age >= 0 && age < window
	})
	return c
}
