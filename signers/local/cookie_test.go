package local

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/escape"
)

// signCookie signs key with o (cookies set) at signTime for 10 minutes,
// for the client ip (with bind_client_ip), and returns its one cookie.
func signCookie(t testing.TB, l *Local, key string, o *signers.Options, ip string) *http.Cookie {
	t.Helper()
	r := signers.Request{Method: http.MethodGet, Key: key, SignTime: signTime, Expires: 10 * time.Minute, Options: o, Resource: o.Resource}
	if ip != "" {
		r.ClientIP = netip.MustParseAddr(ip)
	}
	s, err := l.Sign(context.Background(), r)
	if err != nil {
		t.Fatalf("signing %s: %v", key, err)
	}
	if s.URL != l.Origin()+"/"+escape.Path(key) || len(s.Cookies) != 1 {
		t.Fatalf("cookie answer: URL %s (want the plain link), %d cookies", s.URL, len(s.Cookies))
	}
	return s.Cookies[0]
}

// admitWithCookie asks l about a GET of path from 192.0.2.1 with the
// Cookie header line cookie, at now.
func admitWithCookie(l *Local, path, cookie string, now time.Time) (signers.Verdict, string) {
	v, why, _ := admitCookieReq(l, path, cookie, now)
	return v, why
}

func admitCookieReq(l *Local, path, cookie string, now time.Time) (signers.Verdict, string, *http.Request) {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.RemoteAddr = "192.0.2.1:40000"
	r.Header.Set("Cookie", cookie)
	v, why := l.Admit(http.Header{}, r, now)
	return v, why, r
}

// TestCookieFolder: a folder rule's cookie, scoped to the folder, opens
// every file under it and nothing else; tampered it is refused, expired
// it is told so.
func TestCookieFolder(t *testing.T) {
	l := newLocal(t, nil)
	c := signCookie(t, l, "data/exp.zarr/.zattrs", &signers.Options{Cookies: true, Resource: "data/exp.zarr/*"}, "")
	if c.Name != "presign-link" || c.Path != "/s/data/exp.zarr/" || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode ||
		c.MaxAge != 600 || !strings.HasPrefix(c.Value, "1~2~1767226200~~~k2~") {
		t.Fatalf("cookie %s", c.String())
	}
	line := "presign-link=" + c.Value
	now := signTime.Add(time.Minute)
	for _, p := range []string{"/s/data/exp.zarr/.zattrs", "/s/data/exp.zarr/0/0.0"} {
		if v, why := admitWithCookie(l, p, line, now); v != signers.Admitted {
			t.Errorf("%s: refused: %s", p, why)
		}
	}
	for _, p := range []string{
		"/s/data/other.zarr/.zattrs", "/s/data/exp.zarrx/a", "/s/data/exp.zarr", "/s/data/x", "/s/Data/exp.zarr/a",
		"/s/data/exp.zarr/../other/a", "/s/data//exp.zarr/a",
	} {
		if v, _ := admitWithCookie(l, p, line, now); v != signers.Refused {
			t.Errorf("%s: verdict %d, want Refused", p, v)
		}
	}
	// a cookie for one folder never opens another: not with another depth
	other := signCookie(t, l, "data/b/x", &signers.Options{Cookies: true, Resource: "data/b/*"}, "")
	shallower := strings.Replace(other.Value, "1~2~", "1~1~", 1)
	for _, v := range []string{other.Value, shallower} {
		if got, _ := admitWithCookie(l, "/s/data/exp.zarr/a", "presign-link="+v, now); got != signers.Refused {
			t.Errorf("cookie %s opens another folder: verdict %d", v, got)
		}
	}
	// each byte of the value matters
	for i := range c.Value {
		b := []byte(c.Value)
		b[i] = flipByte(b[i])
		if v, _ := admitWithCookie(l, "/s/data/exp.zarr/a", "presign-link="+string(b), now); v != signers.Refused {
			t.Errorf("cookie with byte %d changed (%s): verdict %d, want Refused", i, b, v)
		}
	}
	if v, _ := admitWithCookie(l, "/s/data/exp.zarr/a", line, signTime.Add(10*time.Minute)); v != signers.Expired {
		t.Errorf("expired cookie: verdict %d, want Expired", v)
	}
	// the right one among others of the same name (browsers send each path's)
	if v, why := admitWithCookie(l, "/s/data/exp.zarr/a", "presign-link="+other.Value+"; presign-link="+c.Value, now); v != signers.Admitted {
		t.Errorf("two cookies: refused: %s", why)
	}
	// a query is a link, which the cookie does not stand for
	if v, _ := admitWithCookie(l, "/s/data/exp.zarr/a?x=1", line, now); v != signers.Refused {
		t.Errorf("a query with a cookie: verdict %d, want Refused", v)
	}
}

func flipByte(b byte) byte {
	if b == '~' {
		return '.'
	}
	return b ^ 1
}

// TestCookieFileAndIP: without resource the cookie opens its one file;
// with bind_client_ip, from its client only.
func TestCookieFileAndIP(t *testing.T) {
	l := newLocal(t, nil)
	c := signCookie(t, l, "a b/r.txt", &signers.Options{Cookies: true, BindClientIP: true}, "192.0.2.1")
	if c.Path != "/s/a%20b/r.txt" || !strings.HasPrefix(c.Value, "1~0~1767226200~~192.0.2.1~k2~") {
		t.Fatalf("cookie %s", c.String())
	}
	now := signTime.Add(time.Minute)
	if v, why := admitWithCookie(l, "/s/a%20b/r.txt", "presign-link="+c.Value, now); v != signers.Admitted {
		t.Errorf("its file: refused: %s", why)
	}
	if v, _ := admitWithCookie(l, "/s/a%20b/s.txt", "presign-link="+c.Value, now); v != signers.Refused {
		t.Errorf("another file: verdict %d", v)
	}
	r := httptest.NewRequest(http.MethodGet, "/s/a%20b/r.txt", nil)
	r.RemoteAddr = "192.0.2.2:40000"
	r.Header.Set("Cookie", "presign-link="+c.Value)
	if v, why := l.Admit(http.Header{}, r, now); v != signers.Refused || !strings.Contains(why, "another client IP") {
		t.Errorf("from another client: verdict %d (%s)", v, why)
	}
}

// TestCookieStripped: the next handler sees none of the presign-link
// cookies, and every other cookie as it was.
func TestCookieStripped(t *testing.T) {
	l := newLocal(t, nil)
	c := signCookie(t, l, "d/f", &signers.Options{Cookies: true, Resource: "d/*"}, "")
	now := signTime.Add(time.Minute)
	for _, tc := range []struct{ line, want string }{
		{"presign-link=" + c.Value, ""},
		{"session=abc; presign-link=" + c.Value + "; theme=dark", "session=abc; theme=dark"},
		{"presign-link=x; presign-link=" + c.Value, ""},
	} {
		v, why, r := admitCookieReq(l, "/s/d/f", tc.line, now)
		if v != signers.Admitted {
			t.Errorf("%q: refused: %s", tc.line, why)
			continue
		}
		if got := strings.Join(r.Header.Values("Cookie"), "|"); got != tc.want {
			t.Errorf("%q: the next handler sees Cookie %q, want %q", tc.line, got, tc.want)
		}
		if _, ok := r.Header["Cookie"]; ok != (tc.want != "") {
			t.Errorf("%q: a Cookie header is left: %v", tc.line, ok)
		}
	}
	// a request admitted by a link loses its presign-link cookies too
	r := httptest.NewRequest(http.MethodGet, sign(t, l, "d/f", nil, ""), nil)
	r.Header.Set("Cookie", "presign-link=x; a=b")
	if v, why := l.Admit(http.Header{}, r, now); v != signers.Admitted || r.Header.Get("Cookie") != "a=b" {
		t.Errorf("a link with a cookie: verdict %d (%s), the next handler sees Cookie %q", v, why, r.Header.Get("Cookie"))
	}
	// refused: nothing changed
	_, _, r = admitCookieReq(l, "/s/e/f", "presign-link="+c.Value, now)
	if r.Header.Get("Cookie") != "presign-link="+c.Value {
		t.Errorf("a refused request's cookies changed: %q", r.Header.Get("Cookie"))
	}
}

// TestCheckRuleResource: a resource that could only fail when a link is
// signed is refused at start.
func TestCheckRuleResource(t *testing.T) {
	l := newLocal(t, nil)
	for _, c := range []struct {
		resource, keyPrefix, want string
	}{
		{"https://files.example.com/data/*", "", "not a URL"},
		{"data//x/*", "", "segment"},
		{"data/../x/*", "", "segment"},
		{"data/*", "media/", `this rule's keys start with "media/"`},
		{"data", "", "ending in /*"},
		{"*", "", "ending in /*"},
		{"/data/*", "", "ending in /*"},
		{"data/*", "data/x/", ""},
		{"Data/x/*", "data/", ""},
		{"{http.auth.user.id}/*", "media/", ""},
	} {
		o := signers.Options{Resource: c.resource}
		err := l.CheckRule(&signers.RuleInfo{Profile: "files", Methods: []string{"GET"}, Expires: time.Minute, KeyPrefix: c.keyPrefix, Options: &o})
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("resource %q, key prefix %q: error %v, want %q", c.resource, c.keyPrefix, err, c.want)
		}
	}
}

// BenchmarkAdmitCookie checks a good folder cookie that is the request's
// only one.
func BenchmarkAdmitCookie(b *testing.B) {
	l := newLocal(b, nil)
	c := signCookie(b, l, "media/video/clip-0001.mp4", &signers.Options{Cookies: true, Resource: "media/*"}, "")
	r := httptest.NewRequest(http.MethodGet, "/s/media/video/clip-0001.mp4", nil)
	line := []string{"presign-link=" + c.Value}
	h := http.Header{}
	now := signTime.Add(time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		r.Header["Cookie"] = line
		if v, why := l.Admit(h, r, now); v != signers.Admitted {
			b.Fatal(why)
		}
	}
}
