package presign

import (
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-presign/presign/signers"
)

// TestReadsRequest: a template reads the request when it holds a
// placeholder other than the handler's own and the operator's.
func TestReadsRequest(t *testing.T) {
	for _, c := range []struct {
		template string
		want     bool
	}{
		{"", false},
		{"{presign.path}", false},
		{"media/{presign.path}.bin", false},
		{"uploads/{presign.uuid}/{presign.filename}", false},
		{"{env.PREFIX}/{file.prefix.txt}/{presign.path}", false},
		{`literal\{http.auth.user.id\}/{presign.path}`, false},
		{"unclosed {http.auth.user.id", false},
		{"users/{http.auth.user.id}/{presign.path}", true},
		{"{http.request.header.X-Tenant}/{presign.path}", true},
		{"https://{http.request.host}/zarr/*", true},
		{"{vars.tenant}/{presign.key}", true},
		{"{presign.path}/{http.request.cookie.team}", true},
	} {
		if got := readsRequest(c.template); got != c.want {
			t.Errorf("readsRequest(%q) = %v, want %v", c.template, got, c.want)
		}
	}
}

// TestVary: every answer of a rule whose key or resource template reads
// the request carries Vary: Authorization, Cookie (redirects, JSON
// answers, POST forms, check_exists answers and browse pages, which add
// Accept), and no answer of a rule whose templates read only the path does.
func TestVary(t *testing.T) {
	const user = "Authorization, Cookie"
	// check_exists is an option of the real kinds: /check stays on an s3
	// profile, with a fake store.
	block := func(key string) string {
		return `presign {
	` + recordingProfile("rec") + `
	` + mediaProfile + `
	rule /dl/* {
		profile rec
		strip_prefix /dl
		key ` + key + `
		methods GET HEAD PUT POST
		stable 1m
	}
	rule /json/* {
		profile rec
		strip_prefix /json
		key ` + key + `
		respond json
	}
	rule /check/* {
		profile media
		strip_prefix /check
		key ` + key + `
		check_exists
	}
}`
	}
	for _, c := range []struct {
		key  string
		vary bool
	}{
		{"{presign.path}", false},
		{"media/{presign.path}", false},
		{"users/{http.auth.user.id}/{presign.path}", true},
	} {
		h := newHandler(t, block(c.key))
		h.Rules[2].exists = signers.NewExistence(&fakeStore{exists: map[string]bool{"users/alice/a.txt": true, "a.txt": true, "media/a.txt": true}})
		for _, q := range []struct{ method, target string }{
			{"GET", "/dl/a.txt"},
			{"HEAD", "/dl/a.txt"},
			{"PUT", "/dl/a.txt"},
			{"POST", "/dl/a.txt"},
			{"GET", "/json/a.txt"},
			{"GET", "/check/a.txt"},
			{"GET", "/check/missing.txt"},
		} {
			a := serveRequest(t, h, newRequest(q.method, q.target), "alice")
			if a.Code >= 500 || a.Code == http.StatusBadRequest {
				t.Fatalf("%s %s %s: status %d (%v)", c.key, q.method, q.target, a.Code, a.Err)
			}
			got := strings.Join(a.Header.Values("Vary"), ", ")
			if c.vary && got != user || !c.vary && got != "" {
				t.Errorf("key %s, %s %s (%d): Vary %q, want %v", c.key, q.method, q.target, a.Code, got, c.vary)
			}
		}
	}

	for _, c := range []struct {
		key  string
		want string
	}{
		{"{presign.path}", "Accept"},
		{"users/{http.auth.user.id}/{presign.path}", user + ", Accept"},
	} {
		h := browseHandler(t, c.key, "", &fakeStore{pageSize: 1000, keys: []string{"users/alice/a.txt", "a.txt"}})
		for _, mods := range [][]func(*http.Request){nil, {acceptJSON}} {
			r := newRequest("GET", "/files/")
			for _, m := range mods {
				m(r)
			}
			a := serveRequest(t, h, r, "alice")
			if got := strings.Join(a.Header.Values("Vary"), ", "); a.Code != http.StatusOK || got != c.want {
				t.Errorf("browse, key %s: %d, Vary %q, want %q", c.key, a.Code, got, c.want)
			}
		}
	}

	for _, c := range []struct {
		resource string
		vary     bool
	}{
		{"https://" + cfDist + "/{presign.path}", false},
		{"https://" + cfDist + "/users/{http.auth.user.id}/*", true},
	} {
		h := newHandler(t, cfRuleConfig(t, "/users/*", "resource "+c.resource))
		a := serveRequest(t, h, newRequest("GET", "/users/alice/a.txt"), "alice")
		if got := a.Header.Get("Vary"); a.Code != http.StatusFound || (got != "") != c.vary || c.vary && got != user {
			t.Errorf("resource %s: %d (%v), Vary %q, want %v", c.resource, a.Code, a.Err, got, c.vary)
		}
	}
}

// newRequest is a request for serveRequest.
func newRequest(method, target string) *http.Request {
	r, _ := http.NewRequest(method, "http://example.com"+target, nil)
	r.RemoteAddr = "192.0.2.1:1234"
	return r
}
