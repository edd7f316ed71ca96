package presign

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

const (
	linkKey    = "0123456789abcdef0123456789abcdef-k2"
	linkKeyOld = "0123456789abcdef0123456789abcdef-k1"
)

// localBlock is a presign block with a local profile "files" guarding /s,
// and the given rules.
func localBlock(rules string) string {
	return `presign {
		profile files local {
			key k2 ` + linkKey + `
			key k1 ` + linkKeyOld + `
			serve /s
		}
		` + rules + `
	}`
}

// TestGuard: a rule answers with a relative link under serve; the guard
// lets it through to the next handler without its parameters, HEAD too;
// it refuses a request without a valid link (403) and an expired one
// (410), and counts each outcome.
func TestGuard(t *testing.T) {
	h := newHandler(t, localBlock(`rule /dl/* {
			profile files
			strip_prefix /dl
			expires 10m
			content_disposition attachment
		}`))
	now := time.Unix(1767225600, 0)
	at(h, now)
	a := serve(t, h, "GET", "/dl/reports/q1.pdf")
	loc := a.Header.Get("Location")
	if a.Code != http.StatusFound || !strings.HasPrefix(loc, "/s/reports/q1.pdf?pl_v=1&pl_exp=1767226200&pl_cd=attachment&pl_kid=k2&pl_sig=") {
		t.Fatalf("rule answered %d, Location %q", a.Code, loc)
	}
	for _, m := range []string{"GET", "HEAD"} {
		b := serve(t, h, m, loc)
		if !b.Next || b.Err != nil {
			t.Fatalf("%s of a good link did not go on: %d %v", m, b.Code, b.Err)
		}
		if b.Req.URL.RawQuery != "" || strings.Contains(b.Req.RequestURI, "pl_") || b.Req.URL.Path != "/s/reports/q1.pdf" {
			t.Errorf("%s: next saw %q (RequestURI %q)", m, b.Req.URL.String(), b.Req.RequestURI)
		}
		if cd := b.Header.Get("Content-Disposition"); cd != `attachment; filename="q1.pdf"` {
			t.Errorf("%s: Content-Disposition %q", m, cd)
		}
	}
	for _, c := range []struct {
		target string
		code   int
	}{
		{"/s/reports/q1.pdf", http.StatusForbidden},
		{"/s", http.StatusForbidden},
		{"/S/reports/q1.pdf", http.StatusForbidden},
		{"//s/reports/q1.pdf", http.StatusForbidden},
		{"/x/../s/reports/q1.pdf", http.StatusForbidden},
		{"/s/./reports/q1.pdf", http.StatusForbidden},
		{"/%73/reports/q1.pdf", http.StatusForbidden},
		{"/s/reports/q2.pdf" + loc[strings.IndexByte(loc, '?'):], http.StatusForbidden},
		{strings.Replace(loc, "pl_kid=k2", "pl_kid=k9", 1), http.StatusForbidden},
	} {
		b := serve(t, h, "GET", c.target)
		if b.Next || b.Code != c.code {
			t.Errorf("%s: %d, next %v; want %d", c.target, b.Code, b.Next, c.code)
		}
	}
	at(h, now.Add(10*time.Minute))
	if b := serve(t, h, "GET", loc); b.Next || b.Code != http.StatusGone {
		t.Errorf("expired link: %d, next %v; want 410", b.Code, b.Next)
	}
	if b := serve(t, h, "GET", "/elsewhere"); !b.Next {
		t.Errorf("a request outside serve and the rules did not go on")
	}
}

// TestGuardMetrics: verifications are counted by profile and outcome.
func TestGuardMetrics(t *testing.T) {
	h, err := parseBlock(localBlock(`rule /dl/* {
			profile files
			strip_prefix /dl
		}`))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	h2 := new(Handler)
	if err := json.Unmarshal(caddyconfig.JSON(h, nil), h2); err != nil {
		t.Fatal(err)
	}
	if err := h2.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1767225600, 0)
	at(h2, now)
	loc := serve(t, h2, "GET", "/dl/a.txt").Header.Get("Location")
	serve(t, h2, "GET", loc)
	serve(t, h2, "HEAD", loc)
	serve(t, h2, "GET", "/s/a.txt")
	at(h2, now.Add(time.Hour))
	serve(t, h2, "GET", loc)
	fams, err := ctx.GetMetricsRegistry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		if f.GetName() == "caddy_presign_verifications_total" {
			for _, m := range f.GetMetric() {
				got[labels(m)] = m.GetCounter().GetValue()
			}
		}
	}
	want := map[string]float64{"outcome=verified,profile=files": 2, "outcome=refused,profile=files": 1, "outcome=expired,profile=files": 1}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
}

// TestGuardRefusedAtStart: a rule whose paths reach under a guarded
// prefix, and two guards whose prefixes overlap, stop Caddy at start,
// naming both.
func TestGuardRefusedAtStart(t *testing.T) {
	for _, c := range []struct{ rule, want string }{
		{"rule /s/* {\n profile files\n }", `rule 1 (/s/*): path pattern /s/* overlaps /s, which profile "files" guards`},
		{"rule /S/x {\n profile files\n }", "path pattern /S/x overlaps /s"},
		{"rule /s* {\n profile files\n }", "path pattern /s* overlaps /s"},
		{"rule * {\n profile files\n }", "path pattern * overlaps /s"},
		{"rule *.pdf {\n profile files\n }", "path pattern *.pdf overlaps /s"},
		{"rule / {\n profile files\n }\n rule /s {\n profile files\n }", "rule 2 (/s): path pattern /s overlaps /s"},
		{"profile more local {\n key k " + linkKey + "\n serve /S/deeper\n }\n rule /dl/* {\n profile files\n }", `profiles "files" and "more" guard overlapping prefixes /s and /S/deeper`},
		{"rule /dl/* {\n profile files\n methods PUT\n }", "method PUT: local links open downloads only"},
		{"rule /dl/* {\n profile files\n browse\n }", "set root <dir>"},
	} {
		h, err := parseBlock(localBlock(c.rule))
		if err == nil {
			_, err = provisionJSON(t, caddyconfig.JSON(h, nil))
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.rule, err, c.want)
		}
	}
	// a handler that only guards (the serving Caddy of a fleet) needs no rule
	for _, ok := range []string{"rule /dl/* {\n profile files\n }", "rule /sx/* /t/s/* {\n profile files\n }", ""} {
		h, err := parseBlock(localBlock(ok))
		if err == nil {
			_, err = provisionJSON(t, caddyconfig.JSON(h, nil))
		}
		if err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
}

// BenchmarkServeHTTPGuard runs a good link through the handler's guard, to
// the next handler: no allocation.
func BenchmarkServeHTTPGuard(b *testing.B) {
	h := newBenchHandlerOf(b, localBlock("rule /dl/* {\n profile files\n strip_prefix /dl\n }"))
	at(h, time.Unix(1767225600, 0))
	loc := serve(b, h, "GET", "/dl/media/clip-0001.mp4").Header.Get("Location")
	r, w := benchRequest(b)
	u, err := url.Parse(loc)
	if err != nil {
		b.Fatal(err)
	}
	r.URL = u
	q := u.RawQuery
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })
	b.ReportAllocs()
	for b.Loop() {
		r.URL.RawQuery, r.RequestURI = q, loc
		if err := h.ServeHTTP(w, r, next); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkServeHTTPLocal measures ServeHTTP for a local rule with a new
// key on every request: a link signed (HMAC-SHA256) every time.
func BenchmarkServeHTTPLocal(b *testing.B) {
	benchFreshKeys(b, newBenchHandlerOf(b, localBlock("rule /dl/* {\n profile files\n strip_prefix /dl\n }")))
}
