package local

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-presign/presign/signers"
)

const (
	secretA = "0123456789abcdef0123456789abcdef-a"
	secretB = "0123456789abcdef0123456789abcdef-b"
)

// signTime is the fixed clock of the tests: 2026-01-01T00:00:00Z.
var signTime = time.Unix(1767225600, 0).UTC()

func newLocal(t testing.TB, mod func(*Local)) *Local {
	t.Helper()
	l := &Local{Keys: []Key{{ID: "k2", Secret: secretB}, {ID: "k1", Secret: secretA}}, Serve: "/s"}
	if mod != nil {
		mod(l)
	}
	if err := l.Provision(caddy.Context{}); err != nil {
		t.Fatalf("provisioning: %v", err)
	}
	t.Cleanup(func() { l.Cleanup() })
	return l
}

// sign returns the link of l for key, signed at signTime for 10 minutes.
func sign(t testing.TB, l *Local, key string, o *signers.Options, ip string) string {
	t.Helper()
	if o == nil {
		o = &signers.Options{}
	}
	r := signers.Request{Method: http.MethodGet, Key: key, SignTime: signTime, Expires: 10 * time.Minute, Options: o}
	if ip != "" {
		r.ClientIP = netip.MustParseAddr(ip)
	}
	s, err := l.Sign(context.Background(), r)
	if err != nil {
		t.Fatalf("signing %s: %v", key, err)
	}
	if !strings.HasPrefix(s.URL, l.Origin()+"/") {
		t.Fatalf("link %s is not under the origin %s", s.URL, l.Origin())
	}
	return s.URL
}

// admit asks l about a request for target (a path and query) from
// remote, at now.
func admit(l *Local, method, target, remote string, now time.Time) (signers.Verdict, string, *http.Request, http.Header) {
	r := httptest.NewRequest(method, target, nil)
	r.RemoteAddr = remote + ":40000"
	h := http.Header{}
	v, why := l.Admit(h, r, now)
	return v, why, r, h
}

func TestLinkRoundTrip(t *testing.T) {
	l := newLocal(t, nil)
	link := sign(t, l, "reports/2026 Q1 ü.pdf", nil, "")
	if want := "/s/reports/2026%20Q1%20%C3%BC.pdf?pl_v=1&pl_exp=1767226200&pl_kid=k2&pl_sig="; !strings.HasPrefix(link, want) {
		t.Fatalf("link = %s, want it to start with %s", link, want)
	}
	for _, m := range []string{http.MethodGet, http.MethodHead} {
		v, why, r, h := admit(l, m, link, "192.0.2.1", signTime.Add(time.Minute))
		if v != signers.Admitted {
			t.Fatalf("%s: refused a good link: %s", m, why)
		}
		if r.URL.RawQuery != "" || strings.Contains(r.RequestURI, "?") || strings.Contains(r.URL.String(), "pl_") {
			t.Errorf("%s: the link's parameters stay: query %q, RequestURI %q", m, r.URL.RawQuery, r.RequestURI)
		}
		if r.URL.Path != "/s/reports/2026 Q1 ü.pdf" {
			t.Errorf("%s: path changed to %q", m, r.URL.Path)
		}
		if len(h) != 0 {
			t.Errorf("%s: headers set without content_disposition: %v", m, h)
		}
	}
	for _, m := range []string{http.MethodPut, http.MethodPost, http.MethodDelete} {
		if v, _, _, _ := admit(l, m, link, "192.0.2.1", signTime); v != signers.Refused {
			t.Errorf("%s admitted on a GET link", m)
		}
	}
}

func TestLinkExpiryAndNotBefore(t *testing.T) {
	l := newLocal(t, nil)
	good := sign(t, l, "a.txt", nil, "")
	exp := signTime.Add(10 * time.Minute)
	if v, _, _, _ := admit(l, "GET", good, "192.0.2.1", exp.Add(-time.Second)); v != signers.Admitted {
		t.Errorf("refused one second before expiry")
	}
	if v, _, r, _ := admit(l, "GET", good, "192.0.2.1", exp); v != signers.Expired || r.URL.RawQuery == "" {
		t.Errorf("at expiry: verdict %d (want Expired), query %q (want it untouched)", v, r.URL.RawQuery)
	}

	// pl_nbf, which other programs may mint: refused before it, admitted from it
	k := l.keys[0]
	nbf := signTime.Add(5 * time.Minute)
	lk := link{exp: "1767226200", nbf: "1767225900", kid: "k2"}
	withNbf := string(k.appendLink(nil, "/s/a.txt", &lk))
	if v, why, _, _ := admit(l, "GET", withNbf, "192.0.2.1", nbf.Add(-time.Second)); v != signers.Refused || !strings.Contains(why, "not valid yet") {
		t.Errorf("before pl_nbf: verdict %d (%s), want Refused", v, why)
	}
	if v, why, _, _ := admit(l, "GET", withNbf, "192.0.2.1", nbf); v != signers.Admitted {
		t.Errorf("at pl_nbf: refused: %s", why)
	}
	// an expired link with a bad signature is refused, not told expired
	bad := strings.Replace(good, "pl_sig=", "pl_sig=A", 1)
	bad = bad[:len(bad)-1]
	if v, _, _, _ := admit(l, "GET", bad, "192.0.2.1", exp.Add(time.Hour)); v != signers.Refused {
		t.Errorf("an expired link with a bad signature: verdict %d, want Refused", v)
	}
}

func TestLinkKeys(t *testing.T) {
	old := newLocal(t, func(l *Local) { l.Keys = []Key{{ID: "k1", Secret: secretA}} })
	rotated := newLocal(t, nil) // k2 signs, k1 verifies
	retired := newLocal(t, func(l *Local) { l.Keys = []Key{{ID: "k2", Secret: secretB}} })
	oldLink := sign(t, old, "a.txt", nil, "")
	if v, why, _, _ := admit(rotated, "GET", oldLink, "192.0.2.1", signTime); v != signers.Admitted {
		t.Errorf("a link of the listed old key k1 is refused: %s", why)
	}
	if v, why, _, _ := admit(retired, "GET", oldLink, "192.0.2.1", signTime); v != signers.Refused || why != "unknown key id" {
		t.Errorf("a link of the rotated-out key k1: verdict %d (%s), want Refused, unknown key id", v, why)
	}
	// the same id with another secret
	other := newLocal(t, func(l *Local) { l.Keys = []Key{{ID: "k1", Secret: secretB}} })
	if v, why, _, _ := admit(other, "GET", oldLink, "192.0.2.1", signTime); v != signers.Refused || why != "bad signature" {
		t.Errorf("a link of another secret: verdict %d (%s), want Refused, bad signature", v, why)
	}
}

func TestLinkBindsClientIPAndDisposition(t *testing.T) {
	l := newLocal(t, nil)
	o := &signers.Options{BindClientIP: true, ContentDisposition: "attachment"}
	link := sign(t, l, "dir/r.pdf", o, "127.0.0.1")
	if !strings.Contains(link, "&pl_ip=127.0.0.1&pl_cd=attachment&") {
		t.Fatalf("link %s lacks pl_ip and pl_cd", link)
	}
	v, why, _, h := admit(l, "GET", link, "127.0.0.1", signTime)
	if v != signers.Admitted {
		t.Fatalf("refused from its client: %s", why)
	}
	if got := h.Get("Content-Disposition"); got != `attachment; filename="r.pdf"` {
		t.Errorf("Content-Disposition = %q", got)
	}
	if v, _, _, _ := admit(l, "GET", link, "127.0.0.2", signTime); v != signers.Refused {
		t.Errorf("admitted from another client")
	}
	if _, err := l.Sign(context.Background(), signers.Request{Key: "a", SignTime: signTime, Expires: time.Minute, Options: o}); err == nil {
		t.Errorf("signed bind_client_ip without a client IP")
	}
}

// TestLinkOpensOnlyItsPath: a link for one path never opens another, by
// any spelling of a path that decodes or cleans to it or differs in case.
func TestLinkOpensOnlyItsPath(t *testing.T) {
	l := newLocal(t, nil)
	link := sign(t, l, "a/b.txt", nil, "")
	q := link[strings.IndexByte(link, '?'):]
	for _, p := range []string{
		"/s/a%2Fb.txt", "/s/a%2fb.txt", "/s/a//b.txt", "/s//a/b.txt", "/s/a/./b.txt", "/s/x/../a/b.txt",
		"/s/a/b.txt/", "/s/A/b.txt", "/S/a/b.txt", "/s/a/B.TXT", "/s/a/b.txt%00", "/s/a/b.txt%0a",
		"/s/a/b.tx", "/s/a/b.txt.", "/s/a/b.txt/.", "/s/a/b.txt/..", "/s/a/b%2etxt/../b.txt", "/s/a/b.txt%20",
	} {
		if v, _, _, _ := admit(l, "GET", p+q, "192.0.2.1", signTime); v == signers.Admitted {
			t.Errorf("the link of /s/a/b.txt opens %s", p)
		}
	}
	// and the equivalent spelling (an unreserved byte percent-encoded)
	// names the same file: admitted
	if v, why, _, _ := admit(l, "GET", "/s/a/b%2Etxt"+q, "192.0.2.1", signTime); v != signers.Admitted {
		t.Errorf("/s/a/b%%2Etxt, the same path, refused: %s", why)
	}
}

func TestLinkQueryIsExact(t *testing.T) {
	l := newLocal(t, nil)
	link := sign(t, l, "a.txt", nil, "")
	path, q, _ := strings.Cut(link, "?")
	for _, bad := range []string{
		"", "x=1&" + q, q + "&x=1", q + "&", strings.Replace(q, "pl_v=1", "pl_v=2", 1),
		strings.Replace(q, "&pl_kid=k2", "&pl_kid=k3", 1), strings.Replace(q, "pl_exp=", "pl_exp=0", 1),
		strings.Replace(q, "&pl_kid", "&pl_nbf=&pl_kid", 1), strings.Replace(q, "&pl_kid", "&pl_cd=attachment&pl_kid", 1),
		strings.Replace(q, "&pl_kid", "&pl_ip=192.0.2.1&pl_kid", 1), q[:len(q)-1],
	} {
		if v, _, _, _ := admit(l, "GET", path+"?"+bad, "192.0.2.1", signTime); v == signers.Admitted {
			t.Errorf("admitted the query %q", bad)
		}
	}
}

func TestProvisionRefuses(t *testing.T) {
	for _, c := range []struct {
		l    Local
		want string
	}{
		{Local{Serve: "/s"}, "a key is required"},
		{Local{Keys: []Key{{ID: "k", Secret: "short"}}, Serve: "/s"}, "fewer than 32"},
		{Local{Keys: []Key{{ID: "k", Secret: "{env.PRESIGN_TEST_UNSET_KEY}"}}, Serve: "/s"}, "has 0 bytes"},
		{Local{Keys: []Key{{ID: "k", Secret: secretA}, {ID: "k", Secret: secretB}}, Serve: "/s"}, "listed twice"},
		{Local{Keys: []Key{{ID: "k/1", Secret: secretA}}, Serve: "/s"}, "the id must be"},
		{Local{Keys: []Key{{ID: "k", Secret: secretA}}}, "serve or base is required"},
		{Local{Keys: []Key{{ID: "k", Secret: secretA}}, Serve: "/"}, "serve \"/\""},
		{Local{Keys: []Key{{ID: "k", Secret: secretA}}, Serve: "/s/"}, "a clean path prefix"},
		{Local{Keys: []Key{{ID: "k", Secret: secretA}}, Serve: "/s/../t"}, "a clean path prefix"},
		{Local{Keys: []Key{{ID: "k", Secret: secretA}}, Serve: "s"}, "a clean path prefix"},
		{Local{Keys: []Key{{ID: "k", Secret: secretA}}, Base: "dl.example.com"}, "must be https://host"},
		{Local{Keys: []Key{{ID: "k", Secret: secretA}}, Base: "https://dl.example.com/?x"}, "must be https://host"},
		{Local{Keys: []Key{{ID: "k", Secret: secretA}}, Serve: "/s", Root: "/nonexistent/presign"}, "root:"},
	} {
		err := c.l.Provision(caddy.Context{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.l, err, c.want)
		}
		if err != nil && (strings.Contains(err.Error(), secretA) || strings.Contains(err.Error(), "short")) {
			t.Errorf("the error shows the secret: %v", err)
		}
	}
}

func TestOriginAndBase(t *testing.T) {
	for _, c := range []struct {
		serve, base, origin, link string
	}{
		{"/s", "", "/s", "/s/a.txt?"},
		{"/s", "https://DL.example.com", "https://dl.example.com/s", "https://dl.example.com/s/a.txt?"},
		{"", "https://dl.example.com/files/", "https://dl.example.com/files", "https://dl.example.com/files/a.txt?"},
		{"/s", "http://127.0.0.1:8080/x", "http://127.0.0.1:8080/x/s", "http://127.0.0.1:8080/x/s/a.txt?"},
	} {
		l := newLocal(t, func(l *Local) { l.Serve, l.Base = c.serve, c.base })
		if l.Origin() != c.origin || l.Guards() != c.serve {
			t.Errorf("serve %q base %q: origin %q, guards %q", c.serve, c.base, l.Origin(), l.Guards())
		}
		if link := sign(t, l, "a.txt", nil, ""); !strings.HasPrefix(link, c.link) {
			t.Errorf("serve %q base %q: link %s, want %s...", c.serve, c.base, link, c.link)
		}
	}
	// a base with a path signs the path the other server sees
	signer := newLocal(t, func(l *Local) { l.Serve, l.Base = "", "https://dl.example.com/files" })
	server := newLocal(t, func(l *Local) { l.Serve = "/files" })
	u, _ := url.Parse(sign(t, signer, "a.txt", nil, ""))
	if v, why, _, _ := admit(server, "GET", u.RequestURI(), "192.0.2.1", signTime); v != signers.Admitted {
		t.Errorf("the serving profile refuses the signing profile's link: %s", why)
	}
}

func TestCheckRule(t *testing.T) {
	l := newLocal(t, nil)
	rooted := newLocal(t, func(l *Local) { l.Root = t.TempDir() })
	for _, c := range []struct {
		l       *Local
		methods []string
		o       signers.Options
		want    string
	}{
		{l, []string{"PUT"}, signers.Options{}, "method PUT: local links open downloads only"},
		{l, []string{"POST"}, signers.Options{}, "method POST"},
		{l, []string{"DELETE"}, signers.Options{}, "method DELETE"},
		{l, []string{"GET"}, signers.Options{Uppy: true}, "uppy"},
		{l, []string{"GET"}, signers.Options{Browse: true}, "set root <dir>"},
		{l, []string{"GET"}, signers.Options{CheckExists: caddy.Duration(time.Second)}, "set root <dir>"},
		{l, []string{"GET"}, signers.Options{ContentType: "text/plain"}, "content_type is not an option of local"},
		{l, []string{"GET"}, signers.Options{Cookies: true, CookieDomain: "example.com"}, "cookie_domain is not an option of local"},
		{l, []string{"GET"}, signers.Options{ContentDisposition: "x"}, "attachment or inline"},
		{l, []string{"GET", "HEAD"}, signers.Options{ContentDisposition: "inline", BindClientIP: true}, ""},
		{rooted, []string{"GET"}, signers.Options{Browse: true, CheckExists: caddy.Duration(time.Second)}, ""},
	} {
		o := c.o
		err := c.l.CheckRule(&signers.RuleInfo{Profile: "files", Methods: c.methods, Expires: time.Minute, Options: &o})
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%v %+v: error %v, want %q", c.methods, c.o, err, c.want)
		}
	}
}

func TestCaddyfile(t *testing.T) {
	var l Local
	d := caddyfile.NewTestDispenser(`local {
		key k2 {file./run/secrets/link-k2}
		key k1 {env.LINK_KEY_K1}
		serve /s
		base https://dl.example.com
		root /srv/files
		expires 10m
	}`)
	if err := l.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	if len(l.Keys) != 2 || l.Keys[0] != (Key{"k2", "{file./run/secrets/link-k2}"}) || l.Keys[1].ID != "k1" ||
		l.Serve != "/s" || l.Base != "https://dl.example.com" || l.Root != "/srv/files" || time.Duration(l.Expires) != 10*time.Minute {
		t.Errorf("parsed %+v", l)
	}
	for _, bad := range []string{"local {\n key k2\n}", "local {\n key k2 my secret\n}", "local {\n keys x\n}"} {
		var l Local
		err := l.UnmarshalCaddyfile(caddyfile.NewTestDispenser(bad))
		if err == nil || strings.Contains(err.Error(), "secret\"") || strings.Contains(err.Error(), "my") {
			t.Errorf("%q: error %v", bad, err)
		}
	}
}

// BenchmarkAdmit checks a good link: no allocation.
func BenchmarkAdmit(b *testing.B) {
	l := newLocal(b, nil)
	link := sign(b, l, "media/video/clip-0001.mp4", nil, "")
	r := httptest.NewRequest(http.MethodGet, link, nil)
	q, uri := r.URL.RawQuery, r.RequestURI
	h := http.Header{}
	now := signTime.Add(time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		r.URL.RawQuery, r.RequestURI = q, uri
		if v, why := l.Admit(h, r, now); v != signers.Admitted {
			b.Fatal(why)
		}
	}
}

// BenchmarkSign issues a link.
func BenchmarkSign(b *testing.B) {
	l := newLocal(b, nil)
	r := signers.Request{Method: http.MethodGet, Key: "media/video/clip-0001.mp4", SignTime: signTime, Expires: time.Minute, Options: &signers.Options{}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Sign(context.Background(), r); err != nil {
			b.Fatal(err)
		}
	}
}
