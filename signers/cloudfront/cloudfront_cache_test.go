package cloudfront

import (
	"context"
	"fmt"
	"net/netip"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/slotcache"
)

// cfCacheRequests are requests that differ in everything the answer cache
// keys on, one field at a time where possible: canned, custom resource,
// IP-bound (v4, v6, v4-mapped v6, zoned v6), cookies with and without a
// domain, HEAD, another lifetime, another signing time.
func cfCacheRequests() []signers.Request {
	v4a, v4b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	v6a, v6b := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	const key = "results/experiment.zarr/.zattrs"
	const res2 = "https://" + cfTestDomain + "/results/*"
	base := signers.Request{Method: "GET", Key: key, SignTime: cfSignTime, Expires: time.Hour}
	var rs []signers.Request
	add := func(mod func(*signers.Request), o signers.Options) {
		r := base
		if mod != nil {
			mod(&r)
		}
		r.Options = &o
		rs = append(rs, r)
	}
	add(nil, signers.Options{})
	add(func(r *signers.Request) { r.Key = "other.jpg" }, signers.Options{})
	add(func(r *signers.Request) { r.Method = "HEAD" }, signers.Options{})
	add(func(r *signers.Request) { r.Expires = 2 * time.Hour }, signers.Options{})
	add(func(r *signers.Request) { r.SignTime = cfSignTime.Add(time.Minute) }, signers.Options{})
	add(func(r *signers.Request) { r.SignTime = cfSignTime.In(time.FixedZone("CET", 3600)) }, signers.Options{})
	add(func(r *signers.Request) { r.Resource = wildcardResource }, signers.Options{Resource: wildcardResource})
	add(func(r *signers.Request) { r.Resource = res2 }, signers.Options{Resource: "https://{host}/results/*"})
	add(func(r *signers.Request) { r.ClientIP = v4a }, signers.Options{BindClientIP: true})
	add(func(r *signers.Request) { r.ClientIP = v4b }, signers.Options{BindClientIP: true})
	add(func(r *signers.Request) { r.ClientIP = v6a }, signers.Options{BindClientIP: true})
	add(func(r *signers.Request) { r.ClientIP = v6b }, signers.Options{BindClientIP: true})
	add(func(r *signers.Request) { r.ClientIP = netip.AddrFrom16(v4a.As16()) }, signers.Options{BindClientIP: true}) // ::ffff:192.0.2.1
	add(func(r *signers.Request) { r.ClientIP = v6a.WithZone("eth0") }, signers.Options{BindClientIP: true})
	add(func(r *signers.Request) { r.ClientIP = v4a; r.Resource = wildcardResource }, signers.Options{BindClientIP: true, Resource: wildcardResource})
	add(func(r *signers.Request) { r.ClientIP = v4a }, signers.Options{}) // not bound: the IP is ignored
	add(nil, signers.Options{Cookies: true})
	add(nil, signers.Options{Cookies: true, CookieDomain: cfTestDomain})
	add(nil, signers.Options{Cookies: true, CookieDomain: "." + cfTestDomain})
	add(func(r *signers.Request) { r.Resource = wildcardResource }, signers.Options{Cookies: true, Resource: wildcardResource})
	add(func(r *signers.Request) { r.ClientIP = v6a }, signers.Options{Cookies: true, BindClientIP: true})
	add(func(r *signers.Request) { r.ClientIP = v6b }, signers.Options{Cookies: true, BindClientIP: true, CookieDomain: cfTestDomain})
	return rs
}

// sameAnswer tells how a differs from b, byte for byte: URL, ExpiresAt
// (instant and location), fields and cookies (every field, and as headers).
func sameAnswer(a, b *signers.Signed) error {
	if a.URL != b.URL {
		return fmt.Errorf("URL\n%s\nwant\n%s", a.URL, b.URL)
	}
	if a.ExpiresAt != b.ExpiresAt || a.ExpiresAt.Location().String() != b.ExpiresAt.Location().String() {
		return fmt.Errorf("ExpiresAt %v, want %v", a.ExpiresAt, b.ExpiresAt)
	}
	if a.Fields != nil || b.Fields != nil {
		return fmt.Errorf("fields %v, %v", a.Fields, b.Fields)
	}
	if len(a.Cookies) != len(b.Cookies) {
		return fmt.Errorf("%d cookies, want %d", len(a.Cookies), len(b.Cookies))
	}
	for i := range a.Cookies {
		if sa, sb := a.Cookies[i].String(), b.Cookies[i].String(); sa != sb {
			return fmt.Errorf("cookie %d\n%s\nwant\n%s", i, sa, sb)
		}
		if !reflect.DeepEqual(*a.Cookies[i], *b.Cookies[i]) {
			return fmt.Errorf("cookie %d %+v, want %+v", i, *a.Cookies[i], *b.Cookies[i])
		}
	}
	return nil
}

// signFreshCF signs r with cf as a profile without an answer cache would:
// cf's answer cache is emptied first. Not for concurrent use of cf.
func signFreshCF(t testing.TB, cf *CloudFront, r signers.Request) *signers.Signed {
	t.Helper()
	cf.ans = newCFAnswerCache()
	return mustSign(t, cf, r)
}

// cfSlot is the slot of r's answer in cf's answer cache.
func cfSlot(cf *CloudFront, r *signers.Request) uint64 {
	var ip netip.Addr
	if r.Options.BindClientIP {
		ip = r.ClientIP.WithZone("").Unmap()
	}
	return cf.ans.hash(r, ip, r.SignTime.Add(r.Expires)) >> (64 - slotcache.Bits)
}

// sameSlot returns rs with keys changed ("<key>/<n>", n found by brute
// force) so that every request's answer falls into the slot of the first:
// they evict each other.
func sameSlot(cf *CloudFront, rs []signers.Request) []signers.Request {
	out := make([]signers.Request, len(rs))
	want := cfSlot(cf, &rs[0])
	for i, r := range rs {
		base := r.Key
		for n := 0; i > 0 && cfSlot(cf, &r) != want; n++ {
			r.Key = fmt.Sprintf("%s/%d", base, n)
		}
		out[i] = r
	}
	return out
}

func mustSign(t testing.TB, cf *CloudFront, r signers.Request) *signers.Signed {
	t.Helper()
	s, err := cf.Sign(context.Background(), r)
	if err != nil {
		t.Fatalf("%+v: %v", r, err)
	}
	return s
}

// cfCacheCase is the requests of cfCacheRequests, all in one slot of
// cached's answer cache when collide, and their answers from plain, a
// profile whose cache is unused.
func cfCacheCase(t *testing.T, plain, cached *CloudFront, collide bool) ([]signers.Request, []*signers.Signed) {
	t.Helper()
	rs := cfCacheRequests()
	if collide {
		rs = sameSlot(cached, rs)
	}
	want := make([]*signers.Signed, len(rs))
	for i, r := range rs {
		want[i] = signFreshCF(t, plain, r)
	}
	return rs, want
}

// TestCloudFrontAnswerCacheIdentical: with every request asked several
// times in a row (the second stores, the third hits), the answers are those
// of a profile without the cache; and so across a window change, and with
// all requests in one slot of the cache (found by brute force), where each
// evicts the one before.
func TestCloudFrontAnswerCacheIdentical(t *testing.T) {
	for _, keyFile := range []string{cfRSAPKCS1, cfECPKCS8} {
		for _, collide := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/collide=%v", keyFile, collide), func(t *testing.T) {
				plain := newCloudFront(t, func(c *CloudFront) { c.PrivateKeyFile = keyFile })
				cached := newCloudFront(t, func(c *CloudFront) { c.PrivateKeyFile = keyFile })
				rs, want := cfCacheCase(t, plain, cached, collide)
				for round := 0; round < 2; round++ {
					for i, r := range rs {
						var last *signers.Signed
						for n := 0; n < 3; n++ {
							s := mustSign(t, cached, r)
							if err := sameAnswer(s, want[i]); err != nil {
								t.Fatalf("request %d (%+v, %+v), try %d: %v", i, r, *r.Options, n, err)
							}
							last = s
						}
						if again := mustSign(t, cached, r); again != last {
							t.Errorf("request %d: asked 4 times in a row, not answered from the cache", i)
						}
					}
				}
				// distinct requests have distinct answers (the table means
				// what it says), but for the equivalent IPs
				seen := map[string]int{}
				for i, s := range want {
					k := s.URL
					for _, c := range s.Cookies {
						k += fmt.Sprintf("\n%+v", *c) // the Domain field too: String drops a leading dot
					}
					k += "\n" + s.ExpiresAt.String()
					if j, ok := seen[k]; ok {
						ip, ipj := rs[i].ClientIP, rs[j].ClientIP
						if !(rs[i].Options.BindClientIP && ip.WithZone("").Unmap() == ipj.WithZone("").Unmap()) &&
							!(rs[i].Options.BindClientIP == false && rs[j].Options.BindClientIP == false && rs[i].Key == rs[j].Key && reflect.DeepEqual(rs[i].Options, rs[j].Options)) {
							t.Errorf("requests %d and %d have the same answer", j, i)
						}
					}
					seen[k] = i
				}

				// a window change: a new signing time, a new answer, equal to
				// the uncached one; the old window's request still right
				next := rs[0]
				next.SignTime = cfSignTime.Add(10 * time.Minute)
				for n := 0; n < 3; n++ {
					if err := sameAnswer(mustSign(t, cached, next), signFreshCF(t, plain, next)); err != nil {
						t.Fatalf("next window: %v", err)
					}
				}
				if err := sameAnswer(mustSign(t, cached, rs[0]), want[0]); err != nil {
					t.Fatalf("old window after the new: %v", err)
				}
			})
		}
	}
}

// TestCloudFrontAnswerCacheIPs: requests for one key bound to two client
// IPs whose answers share a slot (found by brute force), asked in turns,
// each get the answer for their own IP: the one in the cache is never given
// to the other.
func TestCloudFrontAnswerCacheIPs(t *testing.T) {
	plain := newCloudFront(t, nil)
	cached := newCloudFront(t, nil)
	for _, cookies := range []bool{false, true} {
		for _, first := range []string{"192.0.2.1", "2001:db8::1"} {
			o := signers.Options{BindClientIP: true, Cookies: cookies}
			a := signers.Request{Method: "GET", Key: "k", SignTime: cfSignTime, Expires: time.Hour, Options: &o, ClientIP: netip.MustParseAddr(first)}
			// an IPv4 and an IPv6 address in a's slot
			var others []netip.Addr
			for _, start := range []string{"10.0.0.1", "2001:db8::a00:1"} {
				b := a
				for b.ClientIP = netip.MustParseAddr(start); cfSlot(cached, &b) != cfSlot(cached, &a); {
					b.ClientIP = b.ClientIP.Next()
				}
				others = append(others, b.ClientIP)
			}
			for _, ip := range others {
				b := a
				b.ClientIP = ip
				for round := 0; round < 2; round++ {
					for _, r := range []signers.Request{a, b, b, b, a, a, a, b} {
						if err := sameAnswer(mustSign(t, cached, r), signFreshCF(t, plain, r)); err != nil {
							t.Fatalf("%s after %s in its slot: %v", r.ClientIP, first, err)
						}
					}
				}
				if sameAnswer(signFreshCF(t, plain, a), signFreshCF(t, plain, b)) == nil {
					t.Errorf("%s and %s share an answer", first, ip)
				}
			}
		}
	}
}

// TestCloudFrontAnswerEntryMatches: an entry answers only the request it
// was made for; a change of any one thing it records (another rule's
// options among them, even equal ones) is a mismatch, and
// what it does not record (the client IP without bind_client_ip, the
// resource without one in the rule) is not.
func TestCloudFrontAnswerEntryMatches(t *testing.T) {
	ip := netip.MustParseAddr("192.0.2.1")
	expiresAt := cfSignTime.Add(time.Hour)
	o := signers.Options{Resource: wildcardResource, BindClientIP: true, Cookies: true, CookieDomain: cfTestDomain}
	r := signers.Request{Method: "GET", Key: "a/b", SignTime: cfSignTime, Expires: time.Hour, Options: &o, Resource: wildcardResource, ClientIP: ip}
	e := &cfAnswer{key: "a/b", options: &o, resource: wildcardResource, signTime: cfSignTime, expiresAt: expiresAt, ip: ip}
	if !e.matches(&r, ip, expiresAt) {
		t.Fatal("the entry does not match its own request")
	}
	type variant struct {
		r         signers.Request
		ip        netip.Addr
		expiresAt time.Time
	}
	for name, mod := range map[string]func(*variant){
		"key":              func(v *variant) { v.r.Key = "a/c" },
		"resource":         func(v *variant) { v.r.Resource = "https://" + cfTestDomain + "/a/*" },
		"signing time":     func(v *variant) { v.r.SignTime = v.r.SignTime.Add(time.Second) },
		"signing location": func(v *variant) { v.r.SignTime = v.r.SignTime.In(time.FixedZone("CET", 3600)) },
		"expiry":           func(v *variant) { v.expiresAt = v.expiresAt.Add(time.Second) },
		"expiry location":  func(v *variant) { v.expiresAt = v.expiresAt.In(time.FixedZone("CET", 3600)) },
		"client IP":        func(v *variant) { v.ip = ip.Next() },
		"client IP v6":     func(v *variant) { v.ip = netip.MustParseAddr("2001:db8::1") },
		// the options, by identity: any other rule's, even with equal values
		"rule with equal options": func(v *variant) { oo := o; v.r.Options = &oo },
		"not cookies":             func(v *variant) { oo := o; oo.Cookies = false; v.r.Options = &oo },
	} {
		v := variant{r, ip, expiresAt}
		mod(&v)
		if e.matches(&v.r, v.ip, v.expiresAt) {
			t.Errorf("another %s: the entry matches", name)
		}
	}

	// not recorded: the method (a HEAD's answer is a GET's), the resource
	// of a rule without one, and the IP of a rule without bind_client_ip
	// (Sign passes the zero IP then)
	head := r
	head.Method = "HEAD"
	if !e.matches(&head, ip, expiresAt) {
		t.Error("the entry does not match the HEAD of its request")
	}
	plain := signers.Request{Method: "GET", Key: "a/b", SignTime: cfSignTime, Expires: time.Hour, Options: &signers.Options{}, Resource: "ignored", ClientIP: ip}
	canned := &cfAnswer{key: "a/b", options: plain.Options, signTime: cfSignTime, expiresAt: expiresAt}
	if !canned.matches(&plain, netip.Addr{}, expiresAt) {
		t.Error("a canned entry does not match a request with an unused resource and client IP")
	}
}

// TestCloudFrontAnswerCacheHit: a hot request is answered without a
// signature, a lock or an allocation.
func TestCloudFrontAnswerCacheHit(t *testing.T) {
	for _, o := range []signers.Options{{}, {Cookies: true, CookieDomain: cfTestDomain}, {BindClientIP: true, Resource: wildcardResource}} {
		cf := newCloudFront(t, nil)
		counter := &countingSigner{Signer: cf.key}
		cf.key = counter
		r := signers.Request{
			Method: "GET", Key: "results/experiment.zarr/.zattrs", SignTime: cfSignTime, Expires: time.Hour,
			Options: &o, Resource: o.Resource, ClientIP: netip.MustParseAddr("2001:db8::1"),
		}
		for n := 0; n < 3; n++ {
			mustSign(t, cf, r)
		}
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := cf.Sign(context.Background(), r); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%+v: %.1f allocations per hit, want 0", o, allocs)
		}
		if n := counter.n.Load(); n != 1 {
			t.Errorf("%+v: %d signatures, want 1", o, n)
		}
	}
}

// TestCloudFrontAnswerCacheConcurrent: goroutines asking for many requests
// in one slot (collisions found by brute force) and in the normal cache, in different
// orders, all get the uncached answers. Run with -race.
func TestCloudFrontAnswerCacheConcurrent(t *testing.T) {
	plain := newCloudFront(t, func(c *CloudFront) { c.PrivateKeyFile = cfECPKCS8 })
	for _, collide := range []bool{true, false} {
		cached := newCloudFront(t, func(c *CloudFront) { c.PrivateKeyFile = cfECPKCS8 })
		rs, want := cfCacheCase(t, plain, cached, collide)
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; n < 300; n++ {
					i := (n/3*(g+1) + g) % len(rs) // each request about 3 times in a row
					s, err := cached.Sign(context.Background(), rs[i])
					if err != nil {
						t.Error(err)
						return
					}
					if err := sameAnswer(s, want[i]); err != nil {
						t.Errorf("collide=%v goroutine %d request %d: %v", collide, g, i, err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
}
