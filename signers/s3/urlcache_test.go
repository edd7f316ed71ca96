package s3

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/slotcache"
	"github.com/caddy-presign/presign/signers/internal/urlcache"
)

// newTestS3 provisions a path-style profile whose credentials the test
// sets (see urlCacheTwins); its clock is in 2026-03, when the signing
// times below are, so that credentials that expire stay valid.
func newTestS3(t testing.TB) *S3 {
	t.Helper()
	s := &S3{
		Bucket: "media", Region: "eu-central-1", Endpoint: "http://127.0.0.1:9000", PathStyle: true,
		CredentialsProvider: aws.AnonymousCredentials{},
	}
	if err := s.Provision(caddy.Context{}); err != nil {
		t.Fatal(err)
	}
	s.creds.Now = func() time.Time { return time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC) }
	return s
}

// signFresh signs r with s as a profile without a URL cache would: s's
// cache is emptied first. Not for concurrent use of s.
func signFresh(s *S3, r *signers.Request) (*signers.Signed, error) {
	s.urls = urlcache.New[awsKeys]()
	return s.Sign(context.Background(), *r)
}

// urlCacheTwins returns two S3 profiles alike: the tests use the first's
// URL cache and sign with the second afresh (signFresh). set replaces the
// credentials both hold, as a rotation by their provider would.
func urlCacheTwins(t testing.TB) (cached, fresh *S3, set func(aws.Credentials)) {
	t.Helper()
	cached, fresh = newTestS3(t), newTestS3(t)
	set = func(c aws.Credentials) {
		storeAWS(cached, c)
		storeAWS(fresh, c)
	}
	set(aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"})
	return cached, fresh, set
}

// signBoth signs r with both twins and fails unless the answers are
// identical; it returns the cached one's answer and whether it came from
// the cache.
func signBoth(t testing.TB, cached, fresh *S3, r signers.Request) (*signers.Signed, bool) {
	t.Helper()
	want, err := signFresh(fresh, &r)
	if err != nil {
		t.Fatalf("fresh %s %s: %v", r.Method, r.Key, err)
	}
	before := cachedURLs(cached)
	got, err := cached.Sign(context.Background(), r)
	if err != nil {
		t.Fatalf("cached %s %s: %v", r.Method, r.Key, err)
	}
	if !reflect.DeepEqual(got, want) || got.ExpiresAt.Location() != want.ExpiresAt.Location() {
		t.Fatalf("%s %s at %s: cached answer\n%+v\nfresh answer\n%+v", r.Method, r.Key, r.SignTime, got, want)
	}
	return got, before[unsafe.StringData(got.URL)]
}

// cachedURLs are the URLs in s's cache, by the address of their bytes: an
// answer whose URL is one of them came from the cache.
func cachedURLs(s *S3) map[*byte]bool {
	m := map[*byte]bool{}
	for i := range s.urls.Slots {
		if e := s.urls.Slots[i].Load(); e != nil {
			m[unsafe.StringData(e.URL)] = true
		}
	}
	return m
}

// TestS3URLCacheIdentical: a URL from the cache is byte for byte the URL a
// fresh signature gives, and the cache answers only what it may: the same
// second, key, method, options and credentials. A new second, a credential
// rotation (access key, secret or session token), a lifetime cut to expiring
// credentials, other options or another method sign afresh.
func TestS3URLCacheIdentical(t *testing.T) {
	cached, fresh, setCreds := urlCacheTwins(t)
	t0 := time.Date(2026, 3, 1, 11, 59, 59, 0, time.UTC)
	get := signers.Request{Method: "GET", Key: "reports/2026/März.pdf", SignTime: t0, Expires: 15 * time.Minute, Options: &signers.Options{}}
	// hit: r is answered from the cache
	hit := func(name string, r signers.Request) *signers.Signed {
		t.Helper()
		s, hit := signBoth(t, cached, fresh, r)
		if !hit {
			t.Fatalf("%s: not from the cache", name)
		}
		return s
	}
	// miss: r is signed afresh, and cached after at most two requests (the
	// first time a hash is seen in its slot, only the hash is kept)
	miss := func(name string, r signers.Request) *signers.Signed {
		t.Helper()
		s, h := signBoth(t, cached, fresh, r)
		if h {
			t.Fatalf("%s: from the cache", name)
		}
		for range 2 {
			if _, h = signBoth(t, cached, fresh, r); h {
				return s
			}
		}
		t.Fatalf("%s: still not cached after three requests", name)
		return nil
	}

	first := miss("first request", get)
	if again := hit("same second", get); again.URL != first.URL {
		t.Fatal("same second, other URL")
	}

	// across a second boundary (and a day's: the signing key changes too)
	next := get
	next.SignTime = t0.Add(time.Second)
	if s := miss("next second", next); s.URL == first.URL {
		t.Fatal("next second, same URL")
	}
	midnight := get
	midnight.SignTime = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	miss("next day", midnight)

	// another method, another lifetime, each in a slot of its own
	head := get
	head.Method = "HEAD"
	miss("HEAD", head)
	hit("GET after HEAD", get)
	longer := get
	longer.Expires = time.Hour
	miss("longer lifetime", longer)
	put := get
	put.Method = "PUT"
	miss("PUT", put)

	// options, each step changing one of them: the same slot and hash, the
	// entry tells them apart
	for _, o := range []signers.Options{
		{ContentDisposition: "attachment"},
		{ContentDisposition: "inline"},
		{ContentDisposition: "inline", ContentType: "application/pdf"},
		{ContentDisposition: "inline", ContentType: "application/pdf", CacheControl: "max-age=60"},
	} {
		r := get
		r.Options = &o
		miss(fmt.Sprintf("options %+v", o), r)
	}

	// sub-second signing times (not what the handler passes, but allowed):
	// the same URL, another expires_at
	miss("GET again", get)
	half := get
	half.SignTime = t0.Add(500 * time.Millisecond)
	if s := miss("half a second later", half); s.URL != first.URL {
		t.Fatal("half a second later, other URL")
	}
	// a signing time in another location: another expires_at location
	local := get
	local.SignTime = t0.In(time.FixedZone("CET", 3600))
	miss("signing time in CET", local)

	// credential rotations within the same second, each changing one of
	// access key, secret and session token
	base := aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
	prev := miss("before the rotations", get).URL
	if prev != first.URL {
		t.Fatal("other URL before the rotations")
	}
	for _, c := range []aws.Credentials{
		{AccessKeyID: "AKIDROTATED", SecretAccessKey: base.SecretAccessKey},
		{AccessKeyID: "AKIDROTATED", SecretAccessKey: "another-secret"},
		{AccessKeyID: "AKIDROTATED", SecretAccessKey: "another-secret", SessionToken: "token/one+=", CanExpire: true, Expires: t0.Add(time.Hour)},
		{AccessKeyID: "AKIDROTATED", SecretAccessKey: "another-secret", SessionToken: "token/two+=", CanExpire: true, Expires: t0.Add(time.Hour)},
	} {
		setCreds(c)
		name := fmt.Sprintf("rotated to %s %.7s… %s", c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
		s := miss(name, get)
		if s.URL == prev {
			t.Fatalf("%s: same URL as before", name)
		}
		prev = s.URL
	}
	setCreds(base)
	if s := miss("back to the first credentials", get); s.URL != first.URL {
		t.Fatal("back to the first credentials, other URL")
	}

	// credentials that expire before the URL would: the lifetime is cut to
	// theirs (whole seconds), and a renewal with the same keys but a later
	// expiry, within the same second, signs again
	tmp := aws.Credentials{AccessKeyID: "ASIATEMP", SecretAccessKey: "s1", SessionToken: "t", CanExpire: true}
	for _, c := range []struct {
		exp  time.Duration
		same bool // the same answer as the step before
	}{{10 * time.Minute, false}, {10*time.Minute + 500*time.Millisecond, true}, {12 * time.Minute, false}} {
		tmp.Expires = t0.Add(c.exp)
		setCreds(tmp)
		name := fmt.Sprintf("credentials expiring after %s", c.exp)
		var s *signers.Signed
		if c.same {
			s = hit(name, get)
		} else {
			s = miss(name, get)
		}
		if want := tmp.Expires.Truncate(time.Second); !s.ExpiresAt.Equal(want) {
			t.Fatalf("%s: expires_at %s, want %s", name, s.ExpiresAt, want)
		}
	}
}

// TestS3URLCacheRandom: many requests over a few keys, methods, options,
// seconds and credentials, in a random order and from several goroutines
// (run with -race): every answer of the cached profile is the fresh
// profile's answer, collisions in the cache included.
func TestS3URLCacheRandom(t *testing.T) {
	cached, _, _ := urlCacheTwins(t)
	t0 := time.Date(2026, 3, 1, 23, 59, 58, 0, time.UTC)
	opts := []*signers.Options{{}, {ContentDisposition: "attachment"}, {ContentType: "text/plain", CacheControl: "no-cache"}}
	methods := []string{"GET", "HEAD", "PUT"}
	const keys = 3000 // more than the cache's slots: collisions happen
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		fresh := newTestS3(t) // each goroutine its own: signFresh empties its cache
		fresh.creds = cached.creds
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 42))
			for range 5000 {
				r := signers.Request{
					Method:   methods[rng.IntN(len(methods))],
					Key:      fmt.Sprintf("k/%d", rng.IntN(keys)),
					SignTime: t0.Add(time.Duration(rng.IntN(4)) * time.Second),
					Expires:  time.Duration(1+rng.IntN(2)) * time.Hour,
					Options:  opts[rng.IntN(len(opts))],
				}
				want, err := signFresh(fresh, &r)
				if err != nil {
					t.Error(err)
					return
				}
				got, err := cached.Sign(context.Background(), r)
				if err != nil {
					t.Error(err)
					return
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%+v: cached %+v, fresh %+v", r, got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestS3URLCacheCollision: requests whose entries share a slot, asked in
// turns, each get their own URL: another key, another method for the same
// key, the same key signed a second later for a second less (the same
// expiry, another URL), and sub-second times and lifetimes that make the
// same expiry with another X-Amz-Date or X-Amz-Expires.
func TestS3URLCacheCollision(t *testing.T) {
	cached, fresh, _ := urlCacheTwins(t)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	base := signers.Request{Method: "GET", SignTime: t0, Expires: time.Hour, Options: &signers.Options{}}
	for _, c := range []struct {
		name string
		pair func(i int) (signers.Request, signers.Request)
	}{
		{"other key", func(i int) (signers.Request, signers.Request) {
			r1, r2 := base, base
			r1.Key, r2.Key = "a/0", fmt.Sprintf("a/%d", i)
			return r1, r2
		}},
		{"other method", func(i int) (signers.Request, signers.Request) {
			r1, r2 := base, base
			r1.Key, r2.Key = fmt.Sprintf("m/%d", i), fmt.Sprintf("m/%d", i)
			r2.Method = "HEAD"
			return r1, r2
		}},
		{"a second later for a second less", func(i int) (signers.Request, signers.Request) {
			r1, r2 := base, base
			r1.Key, r2.Key = fmt.Sprintf("s/%d", i), fmt.Sprintf("s/%d", i)
			r2.SignTime, r2.Expires = t0.Add(time.Second), time.Hour-time.Second
			return r1, r2
		}},
		// X-Amz-Expires and expires_at alike, X-Amz-Date a second apart
		{"sub-second times, the same expiry", func(i int) (signers.Request, signers.Request) {
			r1, r2 := base, base
			r1.Key, r2.Key = fmt.Sprintf("f/%d", i), fmt.Sprintf("f/%d", i)
			r1.SignTime, r1.Expires = t0.Add(900*time.Millisecond), time.Hour+500*time.Millisecond
			r2.SignTime, r2.Expires = t0.Add(1400*time.Millisecond), time.Hour
			return r1, r2
		}},
		// X-Amz-Date and expires_at alike, X-Amz-Expires a second apart
		{"sub-second lifetimes, the same expiry", func(i int) (signers.Request, signers.Request) {
			r1, r2 := base, base
			r1.Key, r2.Key = fmt.Sprintf("e/%d", i), fmt.Sprintf("e/%d", i)
			r1.SignTime, r1.Expires = t0.Add(100*time.Millisecond), time.Hour+800*time.Millisecond
			r2.SignTime, r2.Expires = t0.Add(950*time.Millisecond), time.Hour-50*time.Millisecond
			return r1, r2
		}},
	} {
		var r1, r2 signers.Request
		for i := 1; ; i++ {
			r1, r2 = c.pair(i)
			if slotOf(cached, &r1) == slotOf(cached, &r2) {
				break
			}
			if i > 1e6 {
				t.Fatalf("%s: no collision found", c.name)
			}
		}
		// each takes the slot in turn: the first request after the other
		// one is never answered from the cache, the third always is
		for range 3 {
			for _, r := range []signers.Request{r1, r2} {
				for i := range 3 {
					_, hit := signBoth(t, cached, fresh, r)
					if i == 0 && hit {
						t.Fatalf("%s: %+v: a hit right after the other request of the slot", c.name, r)
					}
					if i == 2 && !hit {
						t.Fatalf("%s: %+v: not cached after three requests", c.name, r)
					}
				}
			}
		}
	}
}

// slotOf is the slot of r's URL in s's cache.
func slotOf(s *S3, r *signers.Request) uint64 {
	return s.urls.Hash(r.Method, r.Key, r.SignTime.Unix(), int64(r.Expires/time.Second)) >> (64 - slotcache.Bits)
}

// TestS3URLCacheUniqueKeysFree: keys asked once (every request a new key)
// store nothing: no allocation for the cache, and the hot keys stay.
func TestS3URLCacheUniqueKeysFree(t *testing.T) {
	cached, fresh, _ := urlCacheTwins(t)
	r := signers.Request{Method: "GET", SignTime: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), Expires: time.Hour, Options: &signers.Options{}}
	for i := range 5000 {
		r.Key = fmt.Sprintf("unique/obj-%d", i)
		if _, hit := signBoth(t, cached, fresh, r); hit {
			t.Fatalf("%s: a hit", r.Key)
		}
	}
	if n := len(cachedURLs(cached)); n != 0 {
		t.Errorf("%d URLs cached after keys asked once each", n)
	}
}
