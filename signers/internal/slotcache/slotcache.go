// Package slotcache is the lock-free slot cache under the hot-key caches.
package slotcache

import (
	"hash/maphash"
	"sync/atomic"
)

// Bits sets the number of slots of a Cache, Size.
const (
	Bits = 10
	Size = 1 << Bits
)

// Cache is the mechanism of the profiles' hot-key caches (urlcache.Cache,
// CloudFront's answer cache, signers.Existence): a
// direct-mapped, lock-free cache of immutable entries.
//
// A slot per hash of a request, holding the last hash seen there (a tag)
// and an atomic pointer to an entry. Lookups and stores are lock-free,
// memory is bounded by the arrays, and a collision only costs a miss. An
// entry is stored only when its hash is already the slot's tag, that is the
// second time it is asked for in a row: keys asked once (every request a new
// key) cost a hash and a tag, no allocation, and never evict the hot ones.
// The hash only picks the slot: an entry records everything that determined
// it, and the caller's match decides whether it answers a request. Two
// requests that miss at once may both store an entry, which is harmless:
// they are identical.
type Cache[E any] struct {
	Seed  maphash.Seed            // the seed of the hashes of the embedding cache
	tags  [Size]atomic.Uint64     // per slot, the last hash seen there
	Slots [Size]atomic.Pointer[E] // per slot, its entry
}

// Init seeds the hashes.
func (c *Cache[E]) Init() {
	c.Seed = maphash.MakeSeed()
}

// Finish turns a mix of a request's parts into its hash: murmur3's
// finalizer, so that every bit moves the top bits that pick the slot.
func (c *Cache[E]) Finish(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// Find returns the entry in h's slot if match accepts it; or nil, and then
// whether a fresh entry should be stored (with Store(h, ...)).
func (c *Cache[E]) Find(h uint64, match func(*E) bool) (e *E, admit bool) {
	i := h >> (64 - Bits)
	if c.tags[i].Load() != h {
		c.tags[i].Store(h) // the next request with this hash stores its entry
		return nil, false
	}
	if e := c.Slots[i].Load(); e != nil && match(e) {
		return e, false
	}
	return nil, true
}

// Store puts e into the slot of hash h.
func (c *Cache[E]) Store(h uint64, e *E) {
	c.Slots[h>>(64-Bits)].Store(e)
}
