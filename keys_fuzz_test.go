package presign

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-presign/presign/signers"
)

// fuzzOrigin is the host of the profile's origin in the fuzz test, whose
// path is "/fuzz-bucket", so that every URL must start with fuzzOrigin +
// "/fuzz-bucket/" + the template's fixed prefix.
const fuzzOrigin = "http://127.0.0.1:9"

// FuzzKeyExpansion drives a request path and a user id through both kinds
// of key template (the concatenated "public/{presign.path}" and the
// replacer-expanded "users/{http.auth.user.id}/{presign.path}"), directly
// (presignPath, expand, checkKey, Sign) and through ServeHTTP with Caddy's
// path matcher. It checks that nothing panics, that every accepted key is
// exactly the template around the path (no placeholder in a value is ever
// expanded), starts with the template's fixed prefix, is valid UTF-8 of at
// most 1024 bytes with no control character and no "", "." or ".."
// segment, and that the URL signed for it (by the recording kind: what the
// handler asked and answered; how S3 escapes any key: signers/s3's
// FuzzPresignV4) starts with the profile's origin, the bucket and the
// escaped prefix, and names exactly that key.
func FuzzKeyExpansion(f *testing.F) {
	seeds := [][2]string{
		{"/files/hello.txt", "alice"},
		{"/files/../secret.txt", "alice"},
		{"/files/%2e%2e/secret.txt", ".."},
		{"/files/..%2fsecret.txt", "../private"},
		{"/files/%252e%252e/secret.txt", "%2e%2e"},
		{"/files/a\\..\\b", `..\..`},
		{"/files/a\x00b", "a\x00"},
		{"/files/a\x7f\u0085\u2028", "\r\n"},
		{"/files/\xff\xfe", "\xc0\xae"},
		{"/files/\xed\xa0\x80", "é"},
		{"/files//x", ""},
		{"/files/./x", "."},
		{"/files/x/..", "a/b"},
		{"/FILES/x", "ALICE"},
		{"//files/x", "/"},
		{"/./files/x", "./"},
		{"/files/" + strings.Repeat("a", 1017), "u"},
		{"/files/" + strings.Repeat("a", 1018), "u"},
		{"/me/" + strings.Repeat("b/", 600), strings.Repeat("u", 1000)},
		{"/me/x", "{env.HOME}"},
		{"/me/{http.auth.user.id}", "{presign.path}"},
		{"/files/{env.HOME}", "{file./etc/passwd}"},
		{"/me/日本語/ファイル.txt", "ユーザー"},
		{"/me/?#;:@&=+$,", "?#"},
		{"/files/%", "%zz"},
		{"files/x", "x"},
		{"", ""},
		{"/", "/"},
		{"/me/", "alice"},
		{"/files/\\\\evil.com", "@evil.com"},
		{"/files/http://evil.com", "//evil.com"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	h := newHandler(f, `presign {
		`+recordingProfile("p", "origin "+fuzzOrigin+"/fuzz-bucket")+`
		rule /files/* {
			profile p
			strip_prefix /files
			key public/{presign.path}
		}
		rule /me/* {
			profile p
			strip_prefix /me
			key users/{http.auth.user.id}/{presign.path}
		}
	}`)
	signTime := time.Unix(1700000000, 0).UTC()
	at(h, signTime)
	files, me := h.Rules[0], h.Rules[1]
	if !files.key.simple || me.key.simple {
		f.Fatal("the fuzz test wants one concatenated and one replacer-expanded template")
	}

	f.Fuzz(func(t *testing.T, path, user string) {
		// directly: each rule's expansion of this path, matched or not
		for _, tc := range []struct {
			rule   *Rule
			prefix string // the template's fixed prefix
			want   string // the key the template must give
		}{
			{files, "public/", "public/" + files.presignPath(path)},
			{me, "users/", "users/" + user + "/" + me.presignPath(path)},
		} {
			repl := caddy.NewReplacer()
			repl.Set("http.auth.user.id", user)
			key := tc.rule.key.expand(repl, tc.rule.presignPath(path))
			if key != tc.want {
				t.Fatalf("%s: path %q user %q expands to %q, want %q", tc.rule.name, path, user, key, tc.want)
			}
			if checkKey(key) != "" {
				continue
			}
			checkAcceptedKey(t, key, tc.prefix)
			signed, err := tc.rule.signer.Sign(context.Background(), signers.Request{
				Method: "GET", Key: key, SignTime: signTime, Expires: time.Minute, Options: &tc.rule.Options,
			})
			if err != nil {
				t.Fatalf("signing accepted key %q: %v", key, err)
			}
			checkSignedURL(t, signed.URL, key, tc.prefix)
		}

		// through ServeHTTP: Caddy's matcher picks the rule (or none)
		r := httptest.NewRequest("GET", "/", nil)
		r.URL.Path, r.URL.RawPath = path, ""
		a := serveRequest(t, h, r, user)
		loc := a.Header.Get("Location")
		var he caddyhttp.HandlerError
		switch {
		case a.Next:
			if loc != "" {
				t.Fatalf("path %q went on to the next handler with a Location", path)
			}
		case a.Err != nil:
			if !errors.As(a.Err, &he) || he.StatusCode != 400 || loc != "" {
				t.Fatalf("path %q user %q: error %v (Location %q), want a 400 and nothing signed", path, user, a.Err, loc)
			}
		case a.Code == http.StatusFound:
			u, perr := url.Parse(loc)
			if perr != nil {
				t.Fatalf("Location %q: %v", loc, perr)
			}
			key := strings.TrimPrefix(u.Path, "/fuzz-bucket/")
			prefix := "public/"
			if strings.HasPrefix(key, "users/") {
				prefix = "users/"
			}
			checkAcceptedKey(t, key, prefix)
			checkSignedURL(t, loc, key, prefix)
		default:
			t.Fatalf("path %q user %q: status %d without error", path, user, a.Code)
		}
	})
}

// checkAcceptedKey fails t unless key meets the key rules and starts with
// the template's fixed prefix.
func checkAcceptedKey(t *testing.T, key, prefix string) {
	t.Helper()
	switch {
	case !strings.HasPrefix(key, prefix):
		t.Fatalf("accepted key %q does not start with %q", key, prefix)
	case len(key) > 1024 || key == "":
		t.Fatalf("accepted key of %d bytes", len(key))
	case !utf8.ValidString(key):
		t.Fatalf("accepted key %q is not valid UTF-8", key)
	case strings.HasPrefix(key, "/"):
		t.Fatalf("accepted key %q starts with /", key)
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\\' {
			t.Fatalf("accepted key %q holds %U", key, r)
		}
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			t.Fatalf("accepted key %q has the segment %q", key, seg)
		}
	}
}

// checkSignedURL fails t unless u is a presigned URL of the fuzz profile for
// exactly key, under the escaped prefix, with no parameter but the kind's
// (a GET's, for the fuzz test's clock and a lifetime of a minute or the
// profile's 15m).
func checkSignedURL(t *testing.T, u, key, prefix string) {
	t.Helper()
	if want := fuzzOrigin + "/fuzz-bucket/" + (&url.URL{Path: prefix}).EscapedPath(); !strings.HasPrefix(u, want) {
		t.Fatalf("URL %q does not start with %q", u, want)
	}
	p, err := url.Parse(u)
	if err != nil {
		t.Fatalf("URL %q: %v", u, err)
	}
	if p.Path != "/fuzz-bucket/"+key || p.User != nil || p.Fragment != "" || p.Host != "127.0.0.1:9" {
		t.Fatalf("URL %q names %q on %q, want key %q", u, p.Path, p.Host, key)
	}
	q := p.Query()
	if len(q) != 2 || q.Get("method") != "GET" || (q.Get("exp") != "1700000060" && q.Get("exp") != "1700000900") {
		t.Fatalf("URL %q: query %v, want exactly the kind's method=GET and exp", u, q)
	}
}
