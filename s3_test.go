package presign

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// pathFor is the request path for a key under prefix, percent-encoded as a
// browser would send it.
func pathFor(prefix, key string) string {
	return (&url.URL{Path: prefix + key}).EscapedPath()
}

// s3Static is an S3 profile block with static test keys for bucket in
// region; extra lines (an endpoint) go inside it. Signing is local: nothing
// is asked of the endpoint.
func s3Static(name, bucket, region string, extra ...string) string {
	return `profile ` + name + ` s3 {
			bucket ` + bucket + `
			region ` + region + `
			access_key_id AKIDEXAMPLE
			secret_access_key wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
			` + strings.Join(extra, "\n\t\t\t") + `
		}`
}

// nowhere is an endpoint (path-style) that nothing listens on.
var nowhere = []string{"endpoint http://127.0.0.1:9", "path_style"}

// TestS3Stable: two requests inside a stable window get the same URL and a
// Cache-Control max-age of what is left of the window, signed at the
// window's start; the next window gives a new URL. (That such URLs work on
// a real server: systest's TestS3StableURLWorks.)
func TestS3Stable(t *testing.T) {
	h := newHandler(t, `presign {
		`+s3Static("g", "gallery", "us-east-1", nowhere...)+`
		rule /img/* {
			profile g
			strip_prefix /img
			expires 10m
			stable 1m
		}
	}`)
	start := time.Unix(1767225600, 0) // a window's start: 2026-01-01T00:00:00Z
	at(h, start.Add(10*time.Second))
	a1 := serve(t, h, "GET", "/img/cat.jpg")
	at(h, start.Add(45*time.Second))
	a2 := serve(t, h, "GET", "/img/cat.jpg")
	at(h, start.Add(61*time.Second))
	a3 := serve(t, h, "GET", "/img/cat.jpg")

	u1, u2, u3 := a1.Header.Get("Location"), a2.Header.Get("Location"), a3.Header.Get("Location")
	if u1 == "" || u1 != u2 {
		t.Errorf("two requests in one window gave different URLs:\n%s\n%s", u1, u2)
	}
	if u3 == "" || u3 == u1 {
		t.Errorf("the next window gave the same URL")
	}
	if cc := a1.Header.Get("Cache-Control"); cc != "private, max-age=50" {
		t.Errorf("Cache-Control at 10s into the window: %q, want private, max-age=50", cc)
	}
	if cc := a2.Header.Get("Cache-Control"); cc != "private, max-age=15" {
		t.Errorf("Cache-Control at 45s into the window: %q, want private, max-age=15", cc)
	}
	for u, want := range map[string]time.Time{u1: start, u3: start.Add(time.Minute)} {
		q, _ := url.Parse(u)
		if d := q.Query().Get("X-Amz-Date"); d != want.UTC().Format("20060102T150405Z") {
			t.Errorf("X-Amz-Date %s, want the window's start %s", d, want.UTC().Format("20060102T150405Z"))
		}
	}
}

// TestS3BadKeysSignNothing: every key that fails the checks (not UTF-8,
// over 1024 bytes, a control character or backslash, a leading "/", an
// empty, "." or ".." segment) gets 400 and the signer is never called.
func TestS3BadKeysSignNothing(t *testing.T) {
	h := newHandler(t, `presign {
		`+s3Static("p", "bucket1", "us-east-1")+`
		rule /dl/* {
			profile p
			strip_prefix /dl
		}
		rule /u/* {
			profile p
			strip_prefix /u
			key users/{http.auth.user.id}/{presign.path}
		}
	}`)
	calls := countSigns(h)
	long := strings.Repeat("a", 1021)
	for _, target := range []string{
		"/dl/a//b", "/dl/a/./b", "/dl/a/../b", "/dl/", "/dl/a/", "/dl/x%00y", "/dl/x%0Ay", "/dl/x%7Fy",
		"/dl/x%C2%85y", "/dl/%FF%FE", "/dl/a%5Cb", "/dl/" + long + "xxxx", "/dl//etc/passwd",
		"/u/x", // no user: users//x
	} {
		a := serve(t, h, "GET", target)
		if a.Code != http.StatusBadRequest || a.Header.Get("Location") != "" {
			t.Errorf("%s: status %d, Location %q; want 400 and none", target, a.Code, a.Header.Get("Location"))
		}
		if a.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: a 400 without Cache-Control: no-store", target)
		}
	}
	if *calls != 0 {
		t.Errorf("the signer was called %d times for refused keys", *calls)
	}
	// the longest key allowed is 1024 bytes
	if a := serve(t, h, "GET", "/dl/"+long+"xxx"); a.Code != http.StatusFound {
		t.Errorf("a 1024-byte key: status %d, want 302", a.Code)
	}
}

// TestMethodsAndFallThrough: a method the rule does not allow gets 405 with
// Allow; a path no rule matches goes to the next handler untouched.
func TestMethodsAndFallThrough(t *testing.T) {
	h := newHandler(t, `presign {
		`+s3Static("p", "bucket1", "eu-central-1")+`
		rule /dl/* {
			profile p
		}
		rule /up/* {
			profile p
			methods PUT
		}
	}`)
	for _, c := range []struct{ method, target, allow string }{
		{"PUT", "/dl/x", "GET, HEAD"},
		{"DELETE", "/dl/x", "GET, HEAD"},
		{"OPTIONS", "/dl/x", "GET, HEAD"},
		{"GET", "/up/x", "PUT"},
	} {
		a := serve(t, h, c.method, c.target)
		if a.Code != http.StatusMethodNotAllowed || a.Header.Get("Allow") != c.allow {
			t.Errorf("%s %s: %d Allow %q, want 405 Allow %q", c.method, c.target, a.Code, a.Header.Get("Allow"), c.allow)
		}
	}
	for _, target := range []string{"/", "/other/x", "/dlx", "/d/l/x"} {
		if a := serve(t, h, "GET", target); !a.Next || a.Header.Get("Cache-Control") != "" {
			t.Errorf("GET %s: went to next %v, headers %v; want it passed on untouched", target, a.Next, a.Header)
		}
	}
	a := serve(t, h, "GET", "/dl/x")
	want := "https://bucket1.s3.eu-central-1.amazonaws.com/dl/x?"
	if a.Code != http.StatusFound || !strings.HasPrefix(a.Header.Get("Location"), want) {
		t.Errorf("GET /dl/x on AWS: %d %q, want 302 to %s...", a.Code, a.Header.Get("Location"), want)
	}
	if a := serve(t, h, "PUT", "/up/x"); a.Code != http.StatusTemporaryRedirect || !strings.Contains(a.Header.Get("Location"), "X-Amz-Signature=") {
		t.Errorf("PUT /up/x: %d, want 307 to a signed URL", a.Code)
	}
}

// TestStripPrefixWithTrailingSlash: strip_prefix "/files/" strips like
// "/files", and "/files//x" is refused rather than cleaned to "x".
func TestStripPrefixWithTrailingSlash(t *testing.T) {
	h := newHandler(t, `presign {
		`+s3Static("p", "bucket1", "us-east-1")+`
		rule /files/* {
			profile p
			strip_prefix /files/
			key public/{presign.path}
		}
	}`)
	if a := serve(t, h, "GET", "/files/x"); a.Code != http.StatusFound || !strings.Contains(a.Header.Get("Location"), "/public/x?") {
		t.Errorf("/files/x: %d %q, want 302 to public/x", a.Code, a.Header.Get("Location"))
	}
	if a := serve(t, h, "GET", "/files//x"); a.Code != http.StatusBadRequest {
		t.Errorf("/files//x: %d, want 400", a.Code)
	}
}
