package presign

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/caddy-presign/presign/signers"
)

// TestCheckExists: a missing object is 404 and nothing is signed; an
// existing one is the usual redirect; a store that cannot tell is 502 or
// 503, never 404; PUT is not checked; the profile's existence cache
// answers a key asked again within the window, and remembers no failure.
func TestCheckExists(t *testing.T) {
	st := &fakeStore{exists: map[string]bool{"here.txt": true}}
	h := newHandler(t, `presign {
	profile media s3 {
		bucket media
		region us-east-1
		access_key_id AKID
		secret_access_key SECRET
	}
	rule /dl/* {
		profile media
		strip_prefix /dl
		methods GET HEAD PUT
		check_exists 30s
	}
}`)
	h.Rules[0].exists = signers.NewExistence(st)
	signs := countSigns(h)
	if a := serve(t, h, "GET", "/dl/gone.txt"); a.Code != http.StatusNotFound || a.Header.Get("Location") != "" || *signs != 0 {
		t.Errorf("missing: status %d, Location %q, %d signed; want 404, none", a.Code, a.Header.Get("Location"), *signs)
	}
	for _, m := range []string{"GET", "HEAD"} {
		if a := serve(t, h, m, "/dl/here.txt"); a.Code != http.StatusFound || !strings.Contains(a.Header.Get("Location"), "/here.txt?") {
			t.Errorf("%s existing: status %d, Location %q; want 302", m, a.Code, a.Header.Get("Location"))
		}
	}
	checks := st.checks
	if a := serve(t, h, "PUT", "/dl/new.txt"); a.Code != http.StatusTemporaryRedirect || st.checks != checks {
		t.Errorf("PUT: status %d, %d checks; want 307 unchecked", a.Code, st.checks-checks)
	}
	if a := serve(t, h, "GET", "/dl/gone.txt"); a.Code != http.StatusNotFound || st.checks != checks {
		t.Errorf("missing again: status %d, %d checks; want 404 from the cache", a.Code, st.checks-checks)
	}
	st.err = &signers.StoreError{Status: http.StatusBadGateway, Reason: "the store is unreachable", Err: errors.New("dial")}
	if a := serve(t, h, "GET", "/dl/down.txt"); a.Code != http.StatusBadGateway {
		t.Errorf("store down: status %d, want 502", a.Code)
	}
	st.err = &signers.StoreError{Status: http.StatusServiceUnavailable, Reason: "credentials unavailable", Err: signers.ErrCredentials}
	if a := serve(t, h, "GET", "/dl/down.txt"); a.Code != http.StatusServiceUnavailable || a.Header.Get("Retry-After") == "" {
		t.Errorf("no credentials: status %d, Retry-After %q; want 503 with one", a.Code, a.Header.Get("Retry-After"))
	}
}

// headStore is an S3 API stand-in that answers every HeadObject with 200
// (with an ETag, as a store's answer about an object has) and counts them.
func headStore(tb testing.TB) (url string, heads *atomic.Int64) {
	heads = new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodHead {
			w.WriteHeader(http.StatusNotImplemented)
			return
		}
		heads.Add(1)
		w.Header().Set("ETag", `"0123abcd"`)
		w.Header().Set("Content-Length", "5")
		w.WriteHeader(http.StatusOK)
	}))
	tb.Cleanup(srv.Close)
	return srv.URL, heads
}

// BenchmarkServeHTTPS3HotKeyCheckExists is BenchmarkServeHTTPS3HotKey with
// check_exists: the store is asked once, and then the profile's existence
// cache answers with the URL cache.
func BenchmarkServeHTTPS3HotKeyCheckExists(b *testing.B) {
	api, heads := headStore(b)
	block := strings.Replace(benchBlock, "path_style", "path_style\n\t\tapi_endpoint "+api, 1)
	block = strings.Replace(block, "strip_prefix /dl", "strip_prefix /dl\n\t\tcheck_exists 1h", 1)
	h := newBenchHandlerOf(b, block)
	r, w := benchRequest(b)
	r.URL.Path = "/dl/hot/object.bin"
	b.ReportAllocs()
	for b.Loop() {
		serveBench(b, h, r, w)
	}
	if n := heads.Load(); n != 1 {
		b.Fatalf("%d HeadObject requests, want 1", n)
	}
}
