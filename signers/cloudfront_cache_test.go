package signers

import (
	"context"
	"fmt"
	"net/netip"
	"reflect"
	"sync"
	"testing"
	"time"
)

// cfCacheRequests are requests that differ in everything the answer cache
// keys on, one field at a time where possible: canned, custom resource,
// IP-bound (v4, v6, v4-mapped v6, zoned v6), cookies with and without a
// domain, HEAD, another lifetime, another signing time.
func cfCacheRequests() []Request {
	v4a, v4b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	v6a, v6b := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	const key = "results/experiment.zarr/.zattrs"
	const res2 = "https://" + cfTestDomain + "/results/*"
	base := Request{Method: "GET", Key: key, SignTime: cfSignTime, Expires: time.Hour}
	var rs []Request
	add := func(mod func(*Request), o Options) {
		r := base
		if mod != nil {
			mod(&r)
		}
		r.Options = &o
		rs = append(rs, r)
	}
	add(nil, Options{})
	add(func(r *Request) { r.Key = "other.jpg" }, Options{})
	add(func(r *Request) { r.Method = "HEAD" }, Options{})
	add(func(r *Request) { r.Expires = 2 * time.Hour }, Options{})
	add(func(r *Request) { r.SignTime = cfSignTime.Add(time.Minute) }, Options{})
	add(func(r *Request) { r.SignTime = cfSignTime.In(time.FixedZone("CET", 3600)) }, Options{})
	add(func(r *Request) { r.Resource = wildcardResource }, Options{Resource: wildcardResource})
	add(func(r *Request) { r.Resource = res2 }, Options{Resource: "https://{host}/results/*"})
	add(func(r *Request) { r.ClientIP = v4a }, Options{BindClientIP: true})
	add(func(r *Request) { r.ClientIP = v4b }, Options{BindClientIP: true})
	add(func(r *Request) { r.ClientIP = v6a }, Options{BindClientIP: true})
	add(func(r *Request) { r.ClientIP = v6b }, Options{BindClientIP: true})
	add(func(r *Request) { r.ClientIP = netip.AddrFrom16(v4a.As16()) }, Options{BindClientIP: true}) // ::ffff:192.0.2.1
	add(func(r *Request) { r.ClientIP = v6a.WithZone("eth0") }, Options{BindClientIP: true})
	add(func(r *Request) { r.ClientIP = v4a; r.Resource = wildcardResource }, Options{BindClientIP: true, Resource: wildcardResource})
	add(func(r *Request) { r.ClientIP = v4a }, Options{}) // not bound: the IP is ignored
	add(nil, Options{Cookies: true})
	add(nil, Options{Cookies: true, CookieDomain: cfTestDomain})
	add(nil, Options{Cookies: true, CookieDomain: "." + cfTestDomain})
	add(func(r *Request) { r.Resource = wildcardResource }, Options{Cookies: true, Resource: wildcardResource})
	add(func(r *Request) { r.ClientIP = v6a }, Options{Cookies: true, BindClientIP: true})
	add(func(r *Request) { r.ClientIP = v6b }, Options{Cookies: true, BindClientIP: true, CookieDomain: cfTestDomain})
	return rs
}

// sameAnswer tells how a differs from b, byte for byte: URL, ExpiresAt
// (instant and location), fields and cookies (every field, and as headers).
func sameAnswer(a, b *Signed) error {
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

// cfPlain is a profile without the answer cache, the reference.
func cfPlain(t testing.TB, keyFile string) *CloudFront {
	cf := newCloudFront(t, func(c *CloudFront) { c.PrivateKeyFile = keyFile })
	cf.ans = nil
	return cf
}

func mustSign(t testing.TB, cf *CloudFront, r Request) *Signed {
	t.Helper()
	s, err := cf.Sign(context.Background(), &r)
	if err != nil {
		t.Fatalf("%+v: %v", r, err)
	}
	return s
}

// TestCloudFrontAnswerCacheIdentical: with every request asked several
// times in a row (the second stores, the third hits), the answers are those
// of a profile without the cache; and so across a window change, and with
// the hash forced to one slot for all requests.
func TestCloudFrontAnswerCacheIdentical(t *testing.T) {
	for _, keyFile := range []string{cfRSAPKCS1, cfECPKCS8} {
		for _, collide := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/collide=%v", keyFile, collide), func(t *testing.T) {
				plain := cfPlain(t, keyFile)
				cached := newCloudFront(t, func(c *CloudFront) { c.PrivateKeyFile = keyFile })
				if collide {
					cached.ans.mask = 0
				}
				rs := cfCacheRequests()
				want := make([]*Signed, len(rs))
				for i, r := range rs {
					want[i] = mustSign(t, plain, r)
				}
				for round := 0; round < 2; round++ {
					for i, r := range rs {
						var last *Signed
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
							!(rs[i].Options.BindClientIP == false && rs[j].Options.BindClientIP == false && rs[i].Key == rs[j].Key && *rs[i].Options == *rs[j].Options) {
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
					if err := sameAnswer(mustSign(t, cached, next), mustSign(t, plain, next)); err != nil {
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

// TestCloudFrontAnswerCacheIPs: with every request in one slot under one
// hash, an answer bound to one client IP is never given to another.
func TestCloudFrontAnswerCacheIPs(t *testing.T) {
	plain := cfPlain(t, cfRSAPKCS1)
	cached := newCloudFront(t, nil)
	cached.ans.mask = 0
	for _, cookies := range []bool{false, true} {
		for _, pair := range [][2]string{{"192.0.2.1", "192.0.2.2"}, {"2001:db8::1", "2001:db8::2"}, {"192.0.2.1", "::1"}, {"10.0.0.1", "2001:db8::a00:1"}} {
			o := Options{BindClientIP: true, Cookies: cookies}
			a := Request{Method: "GET", Key: "k", SignTime: cfSignTime, Expires: time.Hour, Options: &o, ClientIP: netip.MustParseAddr(pair[0])}
			b := a
			b.ClientIP = netip.MustParseAddr(pair[1])
			for n := 0; n < 3; n++ { // a is stored and answered from the cache
				mustSign(t, cached, a)
			}
			sb := mustSign(t, cached, b)
			if err := sameAnswer(sb, mustSign(t, plain, b)); err != nil {
				t.Errorf("%s after %s: %v", pair[1], pair[0], err)
			}
			if sameAnswer(sb, mustSign(t, plain, a)) == nil {
				t.Errorf("%s and %s share an answer", pair[0], pair[1])
			}
		}
	}
}

// TestCloudFrontAnswerCacheHit: a hot request is answered without a
// signature, a lock or an allocation.
func TestCloudFrontAnswerCacheHit(t *testing.T) {
	for _, o := range []Options{{}, {Cookies: true, CookieDomain: cfTestDomain}, {BindClientIP: true, Resource: wildcardResource}} {
		cf := newCloudFront(t, nil)
		counter := &countingSigner{Signer: cf.key}
		cf.key = counter
		r := Request{Method: "GET", Key: "results/experiment.zarr/.zattrs", SignTime: cfSignTime, Expires: time.Hour,
			Options: &o, Resource: o.Resource, ClientIP: netip.MustParseAddr("2001:db8::1")}
		for n := 0; n < 3; n++ {
			mustSign(t, cf, r)
		}
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := cf.Sign(context.Background(), &r); err != nil {
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
// in one slot (forced collisions) and in the normal cache, in different
// orders, all get the uncached answers. Run with -race.
func TestCloudFrontAnswerCacheConcurrent(t *testing.T) {
	plain := cfPlain(t, cfECPKCS8)
	rs := cfCacheRequests()
	want := make([]*Signed, len(rs))
	for i, r := range rs {
		want[i] = mustSign(t, plain, r)
	}
	for _, collide := range []bool{true, false} {
		cached := newCloudFront(t, func(c *CloudFront) { c.PrivateKeyFile = cfECPKCS8 })
		if collide {
			cached.ans.mask = 0
		}
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; n < 300; n++ {
					i := (n/3*(g+1) + g) % len(rs) // each request about 3 times in a row
					s, err := cached.Sign(context.Background(), &rs[i])
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
