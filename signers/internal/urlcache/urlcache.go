// Package urlcache is the cache of recently signed URLs, generic over the
// credential they were signed with.
package urlcache

import (
	"hash/maphash"
	"time"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/slotcache"
)

// Cache remembers the URLs a profile signed recently, so that a hot key
// is signed about once per second (once per window with `stable`) rather
// than once per request. C identifies the credential a URL was signed with
// (an S3 profile's access key, secret and session token); a kind whose key
// never changes uses struct{}.
//
// A presigned URL is a pure function of the profile (scheme, host, bucket,
// region), the method, the key, the rule's options, the credential, the
// signing time in seconds and the lifetime in seconds: an entry records
// all of the request's share of these and answers only a request that
// matches every one, and the answer's expires_at too, so that a cached
// answer is identical to a fresh one. The options are matched by identity
// (signers.Request.Options, one immutable value per rule): an option added
// later cannot be forgotten here, and rules never share entries. Within a second (or a `stable`
// window) a key's URL does not change; a new second, a rotation of the
// credential or a lifetime cut to its expiry makes a new one.
//
// It is a slotcache.Cache hashed by key, method, signing second and
// lifetime; an entry is about 250 bytes plus its URL, which it shares with
// the answers it gave: at most a few hundred KiB per profile for common keys, about 5 MiB
// for 1024-byte keys.
type Cache[C comparable] struct{ slotcache.Cache[Entry[C]] }

// Entry is one cached URL with everything that determined it.
type Entry[C comparable] struct {
	method, key      string
	signSec, expires int64            // the signing time as Unix seconds, the lifetime in seconds
	options          *signers.Options // the rule's, by identity
	cred             C
	URL              string
	ExpiresAt        time.Time

	// first is the answer of the request that signed the URL: it shares
	// the entry's allocation, and no other request reads it.
	first signers.Signed
}

// New returns an empty cache.
func New[C comparable]() *Cache[C] {
	c := new(Cache[C])
	c.Init()
	return c
}

// Hash is the hash of a request's URL: of its key, method, signing second
// and lifetime, the parts that vary from request to request.
func (c *Cache[C]) Hash(method, key string, signSec, expires int64) uint64 {
	h := maphash.String(c.Seed, key)
	h ^= uint64(signSec)*0x9e3779b97f4a7c15 ^ uint64(expires)*0xc2b2ae3d27d4eb4f ^
		(uint64(len(method))<<8|uint64(method[0]))*0x165667b19e3779f9
	return c.Finish(h)
}

// Lookup returns the cached URL of r, signed at signSec for expires seconds
// with cred and answered with expiresAt; or nil, and then whether a fresh
// signature should be stored (with Add(h, ...)). A typed PUT
// (signers.Request.ContentType) is neither found nor stored: its type is the
// client's.
func (c *Cache[C]) Lookup(r *signers.Request, signSec, expires int64, cred C, expiresAt time.Time) (e *Entry[C], h uint64, admit bool) {
	if r.ContentType != "" {
		return nil, 0, false
	}
	h = c.Hash(r.Method, r.Key, signSec, expires)
	e, admit = c.Find(h, func(e *Entry[C]) bool { return e.matches(r, signSec, expires, cred, expiresAt) })
	return e, h, admit
}

// Add stores the URL u of r, signed at signSec for expires seconds with
// cred and answered with expiresAt, in the slot of hash h (from Lookup),
// and returns the answer. One allocation for the entry and the answer:
// only this caller gets e.first, and hits read e.URL and e.ExpiresAt.
func (c *Cache[C]) Add(h uint64, r *signers.Request, signSec, expires int64, cred C, u string, expiresAt time.Time) *signers.Signed {
	e := &Entry[C]{
		method: r.Method, key: r.Key, signSec: signSec, expires: expires,
		options: r.Options,
		cred:    cred,
		URL:     u, ExpiresAt: expiresAt,
		first: signers.Signed{URL: u, ExpiresAt: expiresAt},
	}
	c.Store(h, e)
	return &e.first
}

// matches tells whether e is the URL for this request, signed at signSec
// for expires seconds with cred. expiresAt is the answer's ExpiresAt,
// compared exactly (its instant and location) so that a cached answer is
// identical to a fresh one.
func (e *Entry[C]) matches(r *signers.Request, signSec, expires int64, cred C, expiresAt time.Time) bool {
	return e.signSec == signSec && e.expires == expires && e.key == r.Key && e.method == r.Method &&
		e.options == r.Options && e.ExpiresAt == expiresAt && e.cred == cred //nolint:staticcheck // QF1009: == on purpose (see above), not Equal
}
