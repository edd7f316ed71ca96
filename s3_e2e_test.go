package presign

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-presign/presign/internal/testenv"
)

// pathFor is the request path for a key under /dl/, percent-encoded as a
// browser would send it.
func pathFor(prefix, key string) string {
	return (&url.URL{Path: prefix + key}).EscapedPath()
}

// TestS3DownloadFollowsRedirect: following the redirect returns the object's
// bytes for GET and HEAD, for plain keys and keys with spaces, unicode and
// '+', and the real server refuses the same URL with one signature
// character changed, and a GET on a URL signed for HEAD.
func TestS3DownloadFollowsRedirect(t *testing.T) {
	s := testenv.StartS3(t)
	s.CreateBucket(t, "media")
	h := newHandler(t, `presign {
		`+s3Profile("media", s, "media")+`
		rule /dl/* {
			profile media
			strip_prefix /dl
		}
	}`)
	origin := s.Endpoint + "/media/"
	for _, key := range []string{"hello.txt", "dir/a b.txt", "ünï/日本語.txt", "c+d=e&f;g.txt", "emoji 🎉 (1).bin", "~tilde/it's.txt"} {
		t.Run(key, func(t *testing.T) {
			body := []byte("bytes of " + key)
			s.Put(t, "media", key, body, "application/octet-stream")

			a := serve(t, h, "GET", pathFor("/dl/", key))
			if a.Code != http.StatusFound {
				t.Fatalf("GET: status %d (%v), want 302", a.Code, a.Err)
			}
			if cc := a.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("GET: Cache-Control %q, want no-store", cc)
			}
			loc := a.Header.Get("Location")
			if !strings.HasPrefix(loc, origin) {
				t.Fatalf("Location %q does not start with the profile's origin %q", loc, origin)
			}
			code, _, got := fetch(t, "GET", loc, nil)
			if code != http.StatusOK || string(got) != string(body) {
				t.Fatalf("following the redirect: %d %q, want 200 %q", code, got, body)
			}
			if code, _, _ := fetch(t, "GET", tamper(t, loc), nil); code != http.StatusForbidden {
				t.Errorf("tampered signature: status %d, want 403", code)
			}

			a = serve(t, h, "HEAD", pathFor("/dl/", key))
			if a.Code != http.StatusFound {
				t.Fatalf("HEAD: status %d, want 302", a.Code)
			}
			head := a.Header.Get("Location")
			code, hdr, _ := fetch(t, "HEAD", head, nil)
			if code != http.StatusOK || hdr.Get("Content-Length") != strconv.Itoa(len(body)) {
				t.Errorf("HEAD through the redirect: %d, Content-Length %q; want 200, %d", code, hdr.Get("Content-Length"), len(body))
			}
			if code, _, _ := fetch(t, "GET", head, nil); code != http.StatusForbidden {
				t.Errorf("GET on a URL presigned for HEAD: status %d, want 403", code)
			}
		})
	}
}

// TestS3ExpiredURLRefused: a URL whose lifetime has passed is refused by the
// real server, while one signed just now with the same rule works.
func TestS3ExpiredURLRefused(t *testing.T) {
	s := testenv.StartS3(t)
	s.CreateBucket(t, "bucket1")
	s.Put(t, "bucket1", "old.txt", []byte("old"), "text/plain")
	h := newHandler(t, `presign {
		`+s3Profile("p", s, "bucket1")+`
		rule /* {
			profile p
			expires 1m
		}
	}`)
	at(h, time.Now().Add(-2*time.Minute))
	loc := serve(t, h, "GET", "/old.txt").Header.Get("Location")
	if code, _, _ := fetch(t, "GET", loc, nil); code != http.StatusForbidden {
		t.Errorf("URL signed 2 minutes ago with expires 1m: status %d, want 403", code)
	}
	h.now = time.Now
	loc = serve(t, h, "GET", "/old.txt").Header.Get("Location")
	if code, _, _ := fetch(t, "GET", loc, nil); code != http.StatusOK {
		t.Errorf("URL signed now: status %d, want 200", code)
	}
}

// TestS3ResponseOverrides: content_disposition (with a non-ASCII file name),
// content_type and cache_control reach the real server's response.
func TestS3ResponseOverrides(t *testing.T) {
	s := testenv.StartS3(t)
	s.CreateBucket(t, "docs")
	h := newHandler(t, `presign {
		`+s3Profile("docs", s, "docs")+`
		rule /files/* {
			profile docs
			strip_prefix /files
			content_disposition attachment
			content_type application/pdf
			cache_control "private, max-age=60"
		}
	}`)
	for key, want := range map[string]string{
		"reports/résumé 2026.pdf": `attachment; filename="r_sum_ 2026.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%202026.pdf`,
		"plain/report.pdf":        `attachment; filename="report.pdf"`,
		`q/say "hi".pdf`:          `attachment; filename="say \"hi\".pdf"`,
	} {
		s.Put(t, "docs", key, []byte("%PDF"), "application/octet-stream")
		loc := serve(t, h, "GET", pathFor("/files/", key)).Header.Get("Location")
		code, hdr, _ := fetch(t, "GET", loc, nil)
		if code != http.StatusOK {
			t.Fatalf("%s: status %d", key, code)
		}
		if got := hdr.Get("Content-Disposition"); got != want {
			t.Errorf("%s: Content-Disposition %q, want %q", key, got, want)
		}
		if got := hdr.Get("Content-Type"); got != "application/pdf" {
			t.Errorf("%s: Content-Type %q, want application/pdf", key, got)
		}
		if got := hdr.Get("Cache-Control"); got != "private, max-age=60" {
			t.Errorf("%s: Cache-Control %q", key, got)
		}
	}
}

// TestS3Stable: two requests inside a stable window get the same URL and a
// Cache-Control max-age of what is left of the window; the next window gives
// a new URL; both work on the real server.
func TestS3Stable(t *testing.T) {
	s := testenv.StartS3(t)
	s.CreateBucket(t, "gallery")
	s.Put(t, "gallery", "cat.jpg", []byte("meow"), "image/jpeg")
	h := newHandler(t, `presign {
		`+s3Profile("g", s, "gallery")+`
		rule /img/* {
			profile g
			strip_prefix /img
			expires 10m
			stable 1m
		}
	}`)
	start := time.Unix(time.Now().Unix()/60*60, 0) // the current window's start
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
	if u3 == u1 {
		t.Errorf("the next window gave the same URL")
	}
	if cc := a1.Header.Get("Cache-Control"); cc != "private, max-age=50" {
		t.Errorf("Cache-Control at 10s into the window: %q, want private, max-age=50", cc)
	}
	if cc := a2.Header.Get("Cache-Control"); cc != "private, max-age=15" {
		t.Errorf("Cache-Control at 45s into the window: %q, want private, max-age=15", cc)
	}
	q, _ := url.Parse(u1)
	if d := q.Query().Get("X-Amz-Date"); d != start.UTC().Format("20060102T150405Z") {
		t.Errorf("X-Amz-Date %s, want the window's start %s", d, start.UTC().Format("20060102T150405Z"))
	}
	for _, u := range []string{u1, u3} {
		if code, _, body := fetch(t, "GET", u, nil); code != http.StatusOK || string(body) != "meow" {
			t.Errorf("stable URL: %d %q", code, body)
		}
	}
}

// TestS3RespondJSON: respond json gives the URL and its expiry as JSON, and
// the URL works.
func TestS3RespondJSON(t *testing.T) {
	s := testenv.StartS3(t)
	s.CreateBucket(t, "api")
	s.Put(t, "api", "data.csv", []byte("a,b\n1,2\n"), "text/csv")
	h := newHandler(t, `presign {
		`+s3Profile("api", s, "api")+`
		rule /api/url/* {
			profile api
			strip_prefix /api/url
			respond json
			expires 5m
		}
	}`)
	now := time.Now()
	at(h, now)
	a := serve(t, h, "GET", "/api/url/data.csv")
	if a.Code != http.StatusOK || a.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, Content-Type %q", a.Code, a.Header.Get("Content-Type"))
	}
	if a.Header.Get("Cache-Control") != "no-store" || a.Header.Get("Location") != "" {
		t.Errorf("JSON answer headers: %v", a.Header)
	}
	var got struct {
		Method, URL string
		ExpiresAt   string `json:"expires_at"`
	}
	if err := json.Unmarshal([]byte(a.Body), &got); err != nil {
		t.Fatalf("body %q: %v", a.Body, err)
	}
	want := time.Unix(now.Unix(), 0).Add(5 * time.Minute).UTC().Format(time.RFC3339)
	if got.Method != "GET" || got.ExpiresAt != want {
		t.Errorf("method %q expires_at %q, want GET %q", got.Method, got.ExpiresAt, want)
	}
	if code, _, body := fetch(t, "GET", got.URL, nil); code != http.StatusOK || string(body) != "a,b\n1,2\n" {
		t.Errorf("JSON URL: %d %q", code, body)
	}
}

// TestS3BadKeysSignNothing: every key that fails the checks (not UTF-8,
// over 1024 bytes, a control character or backslash, a leading "/", an
// empty, "." or ".." segment) gets 400 and the signer is never called.
func TestS3BadKeysSignNothing(t *testing.T) {
	h := newHandler(t, `presign {
		profile p s3 {
			bucket bucket1
			region us-east-1
			access_key_id AKIDEXAMPLE
			secret_access_key wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
		}
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
	calls := 0
	for _, r := range h.Rules {
		r.signer = countingSigner{r.signer, &calls}
	}
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
	if calls != 0 {
		t.Errorf("the signer was called %d times for refused keys", calls)
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
		profile p s3 {
			bucket bucket1
			region eu-central-1
			access_key_id AKIDEXAMPLE
			secret_access_key wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
		}
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
		profile p s3 {
			bucket bucket1
			region us-east-1
			access_key_id AKIDEXAMPLE
			secret_access_key wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
		}
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
