package cloudfront

import (
	"encoding/binary"
	"hash/maphash"
	"net/netip"
	"sync"
	"time"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/slotcache"
)

// cfCacheSize bounds the signature cache: at most this many entries.
const cfCacheSize = 4096

// cfAnswerCache remembers the answers a CloudFront profile gave recently
// (the signed URL, or the cookies and the unsigned URL), so that a hot key
// is answered without building them again, taking a lock or allocating:
// the signature cache saves the signature, this one everything else. It is
// the design of urlcache.Cache.
//
// An answer is a pure function of the profile (origin, key pair ID and
// key, fixed at provisioning) and of the request's key, signing time,
// expiry, rule options, expanded resource (when the rule has one) and
// client IP (with bind_client_ip): an entry records all of these and
// answers only a request that matches every one, the times compared
// exactly (instant and location), so that a cached answer is identical to
// a fresh one. The options are matched by identity (signers.Request.Options,
// one immutable value per rule), so that no option can be forgotten here.
//
// It is a slotcache.Cache hashed by key, signing second, expiry, resource, client
// IP and options; an entry is about 250 bytes plus its URL (which it shares
// with its answers), or in cookies mode about 1 KiB with its three cookies:
// at most a few MiB per profile. A collision costs a miss, whose signature
// the signature cache usually has.
//
// Hits share the entry's answer: callers must not modify it or its
// cookies (the handler only reads them).
type cfAnswerCache struct{ slotcache.Cache[cfAnswer] }

// cfAnswer is one cached answer with everything that determined it.
type cfAnswer struct {
	key                 string
	options             *signers.Options // the rule's, by identity
	resource            string           // the expanded resource, when the rule has one
	signTime, expiresAt time.Time
	ip                  netip.Addr // with bind_client_ip only: unmapped, without zone
	answer              signers.Signed
}

func newCFAnswerCache() *cfAnswerCache {
	c := new(cfAnswerCache)
	c.Init()
	return c
}

// hash is the hash of a request's answer: of the parts that vary from
// request to request.
func (c *cfAnswerCache) hash(r *signers.Request, ip netip.Addr, expiresAt time.Time) uint64 {
	o := r.Options
	h := maphash.String(c.Seed, r.Key)
	h ^= uint64(r.SignTime.Unix())*0x9e3779b97f4a7c15 ^ uint64(expiresAt.Unix())*0xc2b2ae3d27d4eb4f
	var flags uint64
	if o.Cookies {
		flags |= 1
	}
	if o.BindClientIP {
		flags |= 2
		a := ip.As16()
		h ^= binary.LittleEndian.Uint64(a[:8])*0x27d4eb2f165667c5 ^ binary.LittleEndian.Uint64(a[8:])*0x94d049bb133111eb
		if ip.Is4() {
			flags |= 4
		}
	}
	if o.Resource != "" {
		flags |= 8
		h ^= maphash.String(c.Seed, r.Resource) * 0xbf58476d1ce4e5b9
	}
	h ^= (flags | uint64(len(o.CookieDomain))<<4) * 0x165667b19e3779f9
	return c.Finish(h)
}

// lookup returns the cached answer to r (ip its client IP with
// bind_client_ip, expiresAt its expiry); or nil, and then whether a fresh
// answer should be stored (with store(h, ...)).
func (c *cfAnswerCache) lookup(r *signers.Request, ip netip.Addr, expiresAt time.Time) (e *cfAnswer, h uint64, admit bool) {
	h = c.hash(r, ip, expiresAt)
	e, admit = c.Find(h, func(e *cfAnswer) bool { return e.matches(r, ip, expiresAt) })
	return e, h, admit
}

// matches tells whether e is the answer to r, with client IP ip (with
// bind_client_ip) and expiry expiresAt.
func (e *cfAnswer) matches(r *signers.Request, ip netip.Addr, expiresAt time.Time) bool {
	return e.signTime == r.SignTime && e.expiresAt == expiresAt && e.key == r.Key && //nolint:staticcheck // QF1009: times compared exactly, instant and location, as urlcache does: a cached answer is identical to a fresh one
		e.options == r.Options && e.ip == ip && (r.Options.Resource == "" || e.resource == r.Resource)
}

// sigCache is a bounded, concurrency-safe map of recent signatures in two
// generations: when the current one is full it becomes the old one and the
// oldest is dropped; a hit in the old generation moves the entry forward.
// It holds at most max entries, and a hot entry is never dropped.
type sigCache struct {
	mu       sync.Mutex
	max      int // per generation
	cur, old map[string]cfSignature
}

// newSigCache makes a cache of at most max (even, at least 2) signatures.
func newSigCache(max int) *sigCache {
	return &sigCache{max: max / 2, cur: make(map[string]cfSignature, max/2)}
}

func (c *sigCache) get(k string) (cfSignature, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.cur[k]; ok {
		return s, true
	}
	if s, ok := c.old[k]; ok {
		delete(c.old, k)
		c.putLocked(k, s)
		return s, true
	}
	return cfSignature{}, false
}

// add stores s under k unless an entry is there already (two requests
// signed the same policy at once), and returns the entry that is kept, so
// that both answer the same.
func (c *sigCache) add(k string, s cfSignature) cfSignature {
	c.mu.Lock()
	defer c.mu.Unlock()
	if have, ok := c.cur[k]; ok {
		return have
	}
	if have, ok := c.old[k]; ok {
		return have
	}
	c.putLocked(k, s)
	return s
}

func (c *sigCache) putLocked(k string, s cfSignature) {
	if len(c.cur) >= c.max {
		c.old, c.cur = c.cur, make(map[string]cfSignature, c.max)
	}
	c.cur[k] = s
}
