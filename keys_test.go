package presign

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestKeysOfUsersAndHeaders: user ids and header values that no client can
// send through basic_auth or HTTP/1.1 (no user, a user id that is a path of
// its own, a backslash, NUL, a newline, 1100 bytes; CR LF in a header) are
// refused with 400 before anything is signed, for GET, POST and PUT;
// placeholders in a user id stay literal; a 100 kB query never reaches the
// URL. (The same attacks as a client sends them, followed against a real
// server: systest's TestHostileRawThroughCaddy and TestS3PerUserUploads.)
func TestKeysOfUsersAndHeaders(t *testing.T) {
	h := newHandler(t, `presign {
		`+s3Static("p", "vault", "us-east-1", nowhere...)+`
		rule /hdr/* {
			profile p
			key public/{http.request.header.X-Obj}
		}
		rule /u/* {
			methods GET PUT POST
			profile p
			strip_prefix /u
			key users/{http.auth.user.id}/{presign.path}
		}
	}`)
	calls := countSigns(h)
	for _, c := range []struct{ method, user string }{
		{"GET", ""},
		{"POST", ""},
		{"PUT", ""},
		{"POST", ".."},
		{"PUT", "a/../b"},
		{"POST", "."},
		{"GET", `..\..`},
		{"GET", "alice\x00"},
		{"GET", "alice\n"},
		{"POST", strings.Repeat("u", 1100)},
	} {
		a := serveRequest(t, h, httptest.NewRequest(c.method, "/u/x.jpg", nil), c.user)
		if a.Code != http.StatusBadRequest || a.Header.Get("Location") != "" || a.Body != "" || a.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s as user %q: %d, Location %q, body %q; want 400 with nothing signed", c.method, c.user, a.Code, a.Header.Get("Location"), a.Body)
		}
	}
	r := httptest.NewRequest("GET", "/hdr/x", nil)
	r.Header["X-Obj"] = []string{"a\r\n../secret.txt"}
	if a := serveRequest(t, h, r, ""); a.Code != http.StatusBadRequest || a.Header.Get("Location") != "" {
		t.Errorf("a header value with CR LF: %d %q, want 400", a.Code, a.Header.Get("Location"))
	}
	if *calls != 0 {
		t.Errorf("the signer was called %d times for refused keys", *calls)
	}

	loc := serveRequest(t, h, httptest.NewRequest("GET", "/u/x.txt", nil), "{env.HOME}").Header.Get("Location")
	if u, err := url.Parse(loc); err != nil || u.Path != "/vault/users/{env.HOME}/x.txt" {
		t.Errorf("user {env.HOME}: Location %q, want the key users/{env.HOME}/x.txt", loc)
	}
	query := "X-Amz-Signature=forged&X-Amz-Credential=EVIL%2F20200101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Expires=604800" +
		"&response-content-type=text%2Fhtml&versionId=1" + strings.Repeat("&pad=0123456789abcdef", 5000)
	a := serveRequest(t, h, httptest.NewRequest("GET", "/u/hello.txt?"+query, nil), "alice")
	u, err := url.Parse(a.Header.Get("Location"))
	if a.Code != http.StatusFound || err != nil || u.Path != "/vault/users/alice/hello.txt" {
		t.Fatalf("a 100 kB query: %d %q, want 302 to users/alice/hello.txt", a.Code, a.Header.Get("Location"))
	}
	for name, vals := range u.Query() {
		if !strings.HasPrefix(name, "X-Amz-") || len(vals) != 1 || strings.Contains(vals[0], "EVIL") || vals[0] == "forged" || vals[0] == "604800" {
			t.Errorf("Location carries %s=%q: the client's query must never pass", name, vals)
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
