package presign

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddy-presign/presign/signers/signerstest"
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
		`+recordingProfile("p")+`
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
	clock := time.Unix(1767225600, 0)
	at(h, clock)
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
	if n := len(recorded(t, h, "p")); n != 0 {
		t.Errorf("the signer was called %d times for refused keys", n)
	}

	loc := serveRequest(t, h, httptest.NewRequest("GET", "/u/x.txt", nil), "{env.HOME}").Header.Get("Location")
	if want := recordingURL("users/{env.HOME}/x.txt", "GET", clock.Add(15*time.Minute)); loc != want {
		t.Errorf("user {env.HOME}: Location %q, want the key users/{env.HOME}/x.txt: %s", loc, want)
	}
	query := "X-Amz-Signature=forged&X-Amz-Credential=EVIL%2F20200101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Expires=604800" +
		"&response-content-type=text%2Fhtml&versionId=1" + strings.Repeat("&pad=0123456789abcdef", 5000)
	a := serveRequest(t, h, httptest.NewRequest("GET", "/u/hello.txt?"+query, nil), "alice")
	if want := recordingURL("users/alice/hello.txt", "GET", clock.Add(15*time.Minute)); a.Code != http.StatusFound || a.Header.Get("Location") != want {
		t.Fatalf("a 100 kB query: %d %q, want 302 to %s: the client's query must never pass", a.Code, a.Header.Get("Location"), want)
	}
}

// TestBadKeysSignNothing: every key that fails the checks (not UTF-8,
// over 1024 bytes, a control character or backslash, a leading "/", an
// empty, "." or ".." segment) gets 400 and the signer is never called.
func TestBadKeysSignNothing(t *testing.T) {
	h := newHandler(t, `presign {
		`+recordingProfile("p")+`
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
	if n := len(recorded(t, h, "p")); n != 0 {
		t.Errorf("the signer was called %d times for refused keys", n)
	}
	// the longest key allowed is 1024 bytes
	if a := serve(t, h, "GET", "/dl/"+long+"xxx"); a.Code != http.StatusFound || !strings.Contains(a.Header.Get("Location"), "/"+long+"xxx?") {
		t.Errorf("a 1024-byte key: status %d, Location %q, want 302 to it", a.Code, a.Header.Get("Location"))
	}
}

// TestStripPrefixWithTrailingSlash: strip_prefix "/files/" strips like
// "/files", and "/files//x" is refused rather than cleaned to "x".
func TestStripPrefixWithTrailingSlash(t *testing.T) {
	h := newHandler(t, `presign {
		`+recordingProfile("p")+`
		rule /files/* {
			profile p
			strip_prefix /files/
			key public/{presign.path}
		}
	}`)
	if a := serve(t, h, "GET", "/files/x"); a.Code != http.StatusFound || !strings.HasPrefix(a.Header.Get("Location"), signerstest.RecordingOrigin+"/public/x?") {
		t.Errorf("/files/x: %d %q, want 302 to public/x", a.Code, a.Header.Get("Location"))
	}
	if a := serve(t, h, "GET", "/files//x"); a.Code != http.StatusBadRequest {
		t.Errorf("/files//x: %d, want 400", a.Code)
	}
}
