package systest

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/caddy-presign/presign/systest/harness"
)

// The hostile-input suite: one table of requests that try to reach objects
// outside a rule's prefix, break the key checks or smuggle a query through,
// sent as raw bytes over TCP to a real Caddy process, where nothing cleans
// or encodes the request line and basic_auth sets the user. (Users and
// header values that no client can send through basic_auth or HTTP/1.1 are
// TestKeysOfUsersAndHeaders in the root package.)
//
// The bucket holds public objects under public/ and users/alice/, and
// private ones outside them (private/secret.txt, secret.txt, users/bob/x.txt)
// whose bytes all contain privateMark. Every 302 is followed against the
// real server: its answer must never contain privateMark.

const privateMark = "PRIVATE-BYTES"

var hostileObjects = map[string]string{
	"public/hello.txt":   "hello, public",
	"public/a/b.txt":     "public a/b",
	"users/alice/x.txt":  "alice's x",
	"private/secret.txt": privateMark + " 1",
	"secret.txt":         privateMark + " 2",
	"users/bob/x.txt":    privateMark + " bob's x",
	"public.txt":         privateMark + " sibling of the prefix",
}

// hostileRules are the presign rules under test (after the profile).
const hostileRules = `
		rule /me/* {
			profile vault
			strip_prefix /me
			key users/{http.auth.user.id}/{presign.path}
		}
		rule /h/* {
			profile vault
			key public/{http.request.header.X-Obj}
		}
		rule /files/* {
			profile vault
			strip_prefix /files
			key public/{presign.path}
		}`

// hostileUsers are the users basic_auth knows (all with password "pw").
var hostileUsers = []string{"alice", "../private", "..", "alice/../..", "%2e%2e", "alice/../bob"}

type hostileCase struct {
	name   string
	method string // default GET
	target string // the request target, sent byte for byte; $ADDR is the server's host:port
	header string // extra header lines, "\n"-separated
	user   string // the basic_auth user, http.auth.user.id ("" : none)
	want   int    // 302; 400; 405; 418 = went on to the next handler; 431
	key    string // 302: the object key it must be signed for
	server bool   // refused by Caddy's HTTP server before any handler
}

func hostileCases() []hostileCase {
	long := strings.Repeat("a", 200)
	at1024 := strings.Repeat(long+"/", 6)[:1024-len("public/")] // ends in a's
	junk := strings.Repeat("&pad=0123456789abcdef", 550)        // 11.5 kB: Caddy takes headers up to 16 KiB
	forged := "X-Amz-Signature=forged&X-Amz-Credential=EVIL%2F20200101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Expires=604800" +
		"&X-Amz-Security-Token=evil&response-content-type=text%2Fhtml&response-content-disposition=inline&versionId=1&x-id=DeleteObject&acl"
	return []hostileCase{
		// inside the prefix: signed, for exactly the key the path names
		{name: "plain", target: "/files/hello.txt", want: 302, key: "public/hello.txt"},
		{name: "HEAD", method: "HEAD", target: "/files/hello.txt", want: 302, key: "public/hello.txt"},
		{name: "upper-case prefix", target: "/FILES/hello.txt", want: 302, key: "public/hello.txt"},
		{name: "encoded slash inside", target: "/files/a%2fb.txt", want: 302, key: "public/a/b.txt"},
		{name: "double-encoded dots", target: "/files/%252e%252e/secret.txt", want: 302, key: "public/%2e%2e/secret.txt"},
		{name: "double-encoded dots and slash", target: "/files/%252e%252e%252fsecret.txt", want: 302, key: "public/%2e%2e%2fsecret.txt"},
		{name: "double-encoded slash", target: "/files/..%252fsecret.txt", want: 302, key: "public/..%2fsecret.txt"},
		{name: "double-encoded backslash", target: "/files/..%255csecret.txt", want: 302, key: "public/..%5csecret.txt"},
		{name: "three dots", target: "/files/...%2fsecret.txt", want: 302, key: "public/.../secret.txt"},
		{name: "fullwidth dots", target: "/files/%EF%BC%8E%EF%BC%8E/secret.txt", want: 302, key: "public/．．/secret.txt"},
		{name: "one-dot-leader dots", target: "/files/%E2%80%A4%E2%80%A4/secret.txt", want: 302, key: "public/․․/secret.txt"},
		{name: "placeholder in path is literal", target: "/files/{env.HOME}/%7Bhttp.auth.user.id%7D", want: 302, key: "public/{env.HOME}/{http.auth.user.id}"},
		{name: "fragment sent raw", target: "/files/hello.txt#frag", want: 302, key: "public/hello.txt#frag"},
		{name: "question mark in key", target: "/files/hello.txt%3FX-Amz-Signature=x", want: 302, key: "public/hello.txt?X-Amz-Signature=x"},
		{name: "key of 1024 bytes", target: "/files/" + at1024, want: 302, key: "public/" + at1024},
		{name: "forged signing query", target: "/files/hello.txt?" + forged, want: 302, key: "public/hello.txt"},
		{name: "huge query", target: "/files/hello.txt?" + forged + junk, want: 302, key: "public/hello.txt"},
		{name: "Host and X-Forwarded-Host", target: "/files/hello.txt", header: "X-Forwarded-Host: evil.com\nX-Forwarded-Proto: https\nForwarded: host=evil.com", want: 302, key: "public/hello.txt"},

		// inside the prefix after cleaning, but the key is not clean: 400
		{name: "dot-dot back into prefix", target: "/files/%2e%2e/files/hello.txt", want: 400},
		{name: "dot-dot raw back into prefix", target: "/files/../files/hello.txt", want: 400},
		{name: "trailing dot-dot", target: "/files/x/%2e%2e/", want: 400},
		{name: "dot segment", target: "/files/a/./b.txt", want: 400},
		{name: "double slash", target: "/files//hello.txt", want: 400},
		{name: "encoded double slash", target: "/files/%2f%2fevil.com", want: 400},
		{name: "leading double slash", target: "//files/hello.txt", want: 400},
		{name: "leading dot", target: "/./files/hello.txt", want: 400},
		{name: "detour", target: "/x/../files/hello.txt", want: 400},
		{name: "prefix only", target: "/files/", want: 400},
		{name: "backslash", target: `/files/..\secret.txt`, want: 400},
		{name: "backslashes", target: `/files/\..\..\secret.txt`, want: 400},
		{name: "encoded backslash", target: "/files/..%5csecret.txt", want: 400},
		{name: "encoded backslash dot-dot", target: "/files/a%5c..%5c..%5csecret.txt", want: 400},
		{name: "fragment with dot-dot", target: "/files/hello.txt#../../secret.txt", want: 400},
		{name: "encoded NUL", target: "/files/hello.txt%00.jpg", want: 400},
		{name: "encoded CRLF", target: "/files/a%0d%0aSet-Cookie:%20x=1", want: 400},
		{name: "encoded tab", target: "/files/a%09b", want: 400},
		{name: "encoded DEL", target: "/files/a%7fb", want: 400},
		{name: "encoded C1 NEL", target: "/files/a%c2%85b", want: 400},
		{name: "encoded invalid UTF-8", target: "/files/%ff%fe", want: 400},
		{name: "raw invalid UTF-8", target: "/files/a\xffb", want: 400},
		{name: "overlong UTF-8 dots", target: "/files/%c0%ae%c0%ae/secret.txt", want: 400},
		{name: "UTF-16 surrogate", target: "/files/%ed%a0%80", want: 400},
		{name: "key of 1025 bytes", target: "/files/" + at1024 + "b", want: 400},
		{name: "overlong key", target: "/files/" + strings.TrimSuffix(strings.Repeat(long+"/", 10), "/"), want: 400},
		// refused by the HTTP server before any handler: nothing signed
		{name: "raw NUL", target: "/files/a\x00b", want: 400, server: true},
		{name: "raw control", target: "/files/a\x01b", want: 400, server: true},
		{name: "raw DEL", target: "/files/a\x7fb", want: 400, server: true},
		{name: "raw space", target: "/files/a b", want: 400, server: true},
		{name: "raw tab", target: "/files/a\tb", want: 400, server: true},
		{name: "query over Caddy's 16 KiB", target: "/files/hello.txt?" + strings.Repeat(junk, 6), want: 431, server: true},

		// the path matcher cleans: these are not /files/* requests at all
		{name: "dot-dot", target: "/files/../secret.txt", want: 418},
		{name: "encoded dot-dot", target: "/files/%2e%2e/secret.txt", want: 418},
		{name: "mixed-case encoded dot-dot", target: "/files/%2E%2e/private/secret.txt", want: 418},
		{name: "dot-dot encoded slash", target: "/files/..%2fsecret.txt", want: 418},
		{name: "all encoded", target: "/files/%2e%2e%2fprivate%2fsecret.txt", want: 418},
		{name: "two levels", target: "/files/x/..%2f..%2fsecret.txt", want: 418},
		{name: "dot-dot to sibling", target: "/files/..%2fpublic.txt", want: 418},
		{name: "no trailing slash", target: "/files", want: 418},
		{name: "sibling prefix", target: "/files.txt", want: 418},
		{name: "encoded dot-dot under another prefix", target: "/dl/%2e%2e/x", want: 418},
		{name: "private path", target: "/private/secret.txt", want: 418},
		{name: "protocol-relative", target: "//evil.com/files/x", want: 418},
		{name: "absolute-form dot-dot", target: "http://$ADDR/files/../secret.txt", want: 418},

		// methods
		{name: "DELETE", method: "DELETE", target: "/files/hello.txt", want: 405},
		{name: "PUT", method: "PUT", target: "/files/hello.txt", want: 405},
		{name: "POST", method: "POST", target: "/files/hello.txt", want: 405},

		// a user id that is a path of its own
		{name: "user alice", target: "/me/x.txt", user: "alice", want: 302, key: "users/alice/x.txt"},
		{name: "user and placeholder in path", target: "/me/{env.HOME}%7Bhttp.auth.user.id%7D", user: "alice", want: 302, key: "users/alice/{env.HOME}{http.auth.user.id}"},
		{name: "user ../private", target: "/me/secret.txt", user: "../private", want: 400},
		{name: "user ..", target: "/me/secret.txt", user: "..", want: 400},
		{name: "user alice/../..", target: "/me/secret.txt", user: "alice/../..", want: 400},
		{name: "user alice/../bob", target: "/me/x.txt", user: "alice/../bob", want: 400},
		{name: "user encoded dots", target: "/me/secret.txt", user: "%2e%2e", want: 302, key: "users/%2e%2e/secret.txt"},
		{name: "alice into bob", target: "/me/x/%2e%2e/%2e%2e/me/bob/x.txt", user: "alice", want: 400},
		{name: "alice out of /me", target: "/me/%2e%2e/secret.txt", user: "alice", want: 418},

		// a key that a client-controlled placeholder fills
		{name: "header key", target: "/h/anything", header: "X-Obj: hello.txt", want: 302, key: "public/hello.txt"},
		{name: "header dot-dot", target: "/h/x", header: "X-Obj: ../secret.txt", want: 400},
		{name: "header dot-dot deeper", target: "/h/x", header: "X-Obj: a/../../private/secret.txt", want: 400},
		{name: "header absent", target: "/h/x", want: 400},
		{name: "header empty", target: "/h/x", header: "X-Obj: ", want: 400},
		{name: "header backslash", target: "/h/x", header: `X-Obj: ..\secret.txt`, want: 400},
		{name: "header encoded dots are literal", target: "/h/x", header: "X-Obj: %2e%2e/secret.txt", want: 302, key: "public/%2e%2e/secret.txt"},
		{name: "header invalid UTF-8", target: "/h/x", header: "X-Obj: \xc0\xae\xc0\xae/secret.txt", want: 400},
		{name: "header leading slash", target: "/h/x", header: "X-Obj: /secret.txt", want: 400},
	}
}

// startVault starts versitygw with the hostile test's bucket and objects.
func startVault(t *testing.T) *harness.S3 {
	s := harness.StartS3(t)
	s.CreateBucket(t, "vault")
	for k, v := range hostileObjects {
		s.Put(t, "vault", k, []byte(v), "text/plain")
	}
	return s
}

// checkHostileAnswer checks one answer against its case, and follows a 302
// against the real server.
func checkHostileAnswer(t *testing.T, s *harness.S3, c hostileCase, code int, hdr http.Header, body string) {
	t.Helper()
	loc := hdr.Get("Location")
	if code != c.want {
		leak := ""
		if loc != "" {
			if _, _, b := harness.Fetch(t, "GET", loc, nil); strings.Contains(string(b), privateMark) {
				leak = fmt.Sprintf(", and following it returns a private object: %q", b)
			}
		}
		t.Fatalf("status %d (Location %q, body %q), want %d%s", code, harness.Clipped(loc, 200), harness.Clipped(body, 200), c.want, leak)
	}
	if c.want != 302 {
		if loc != "" || hdr.Get("Set-Cookie") != "" || strings.Contains(body, "X-Amz-") {
			t.Fatalf("a %d carries something signed: Location %q, Set-Cookie %q, body %q", code, loc, hdr.Get("Set-Cookie"), body)
		}
		switch {
		case c.want == 405 && hdr.Get("Allow") != "GET, HEAD":
			t.Errorf("405 with Allow %q, want GET, HEAD", hdr.Get("Allow"))
		case c.want == 400 && !c.server && hdr.Get("Cache-Control") != "no-store":
			// a 400 of the handler (not of the HTTP server) says no-store
			t.Errorf("400 with Cache-Control %q", hdr.Get("Cache-Control"))
		}
		return
	}
	prefix := s.Endpoint + "/vault/" + c.key[:strings.IndexByte(c.key, '/')+1]
	if !strings.HasPrefix(loc, prefix) {
		t.Fatalf("Location %q is not under %q", harness.Clipped(loc, 300), prefix)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("Location %q: %v", harness.Clipped(loc, 300), err)
	}
	if u.Path != "/vault/"+c.key {
		t.Errorf("Location's object is %q, want %q", u.Path, "/vault/"+c.key)
	}
	q := u.Query()
	for name, vals := range q {
		if !slices.Contains([]string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"}, name) || len(vals) != 1 {
			t.Errorf("Location carries query parameter %s=%q: the client's query must never pass", name, vals)
		}
	}
	if q.Get("X-Amz-Expires") != "900" || !strings.HasPrefix(q.Get("X-Amz-Credential"), s.AccessKey+"/") {
		t.Errorf("Location's signing parameters were changed by the request: %v", q)
	}
	method := c.method
	if method == "" {
		method = "GET"
	}
	got, _, b := harness.Fetch(t, method, loc, nil)
	if strings.Contains(string(b), privateMark) {
		t.Fatalf("following %q returned a private object: %d %q", harness.Clipped(loc, 300), got, b)
	}
	want, exists := hostileObjects[c.key]
	switch {
	case exists && (got != 200 || (method == "GET" && string(b) != want)):
		t.Errorf("following the redirect: %d %q, want 200 %q", got, b, want)
	case !exists && got != 404:
		t.Errorf("following the redirect to a missing object: %d %q, want 404", got, harness.Clipped(string(b), 200))
	}
}

// TestHostileRawThroughCaddy sends the hostile table as raw bytes over TCP
// to a real Caddy process (basic_auth in front of /me/*, respond 418 after
// presign), where no client library cleans, encodes or refuses anything,
// and follows every 302 against the real server. Every signature the
// handler made (Caddy's metrics count them) is one of the 302s checked:
// every key signed lies under public/ or the user's own users/<id>/.
func TestHostileRawThroughCaddy(t *testing.T) {
	s := startVault(t)
	port := harness.Port(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	p := harness.StartCaddy(t, site(port, basicAuth(t, "/me/*", hostileUsers...)+`
	presign {
		`+s.Profile("vault", "vault")+hostileRules+`
	}`), []int{port}, "metrics")

	signed := 0
	for _, c := range hostileCases() {
		if c.want == 302 {
			signed++
			if !strings.HasPrefix(c.key, "public/") && !strings.HasPrefix(c.key, "users/"+c.user+"/") {
				t.Fatalf("case %q: key %q lies outside the rules' prefixes", c.name, c.key)
			}
		}
		t.Run(c.name, func(t *testing.T) {
			method := c.method
			if method == "" {
				method = "GET"
			}
			req := method + " " + strings.ReplaceAll(c.target, "$ADDR", addr) + " HTTP/1.1"
			if c.header != "" {
				req += "\n" + c.header
			}
			if c.user != "" {
				if !slices.Contains(hostileUsers, c.user) {
					t.Fatalf("user %q is not a basic_auth account", c.user)
				}
				r, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
				as(c.user)(r)
				req += "\nAuthorization: " + r.Header.Get("Authorization")
			}
			a := harness.RawRequest(t, addr, req)
			checkHostileAnswer(t, s, c, a.Code, a.Header, string(a.Body))
		})
	}
	if n := p.Metric(`caddy_presign_sign_duration_seconds_count{profile="vault"}`); int(n) != signed {
		t.Errorf("the handler signed %v times for the %d answers that carry a signature: it signed keys nobody checked", n, signed)
	}
}
