package presign

import (
	"bufio"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// indexRules makes rules with these path patterns, their matchers
// provisioned as Rule.provision does.
func indexRules(t testing.TB, patterns [][]string) []*Rule {
	t.Helper()
	rules := make([]*Rule, len(patterns))
	for i, p := range patterns {
		r := &Rule{Path: p, name: fmt.Sprintf("rule %d", i+1)}
		r.match = caddyhttp.MatchPath(slices.Clone(p))
		if err := r.match.Provision(caddy.Context{}); err != nil {
			t.Fatal(err)
		}
		rules[i] = r
	}
	return rules
}

// scanRule is the reference: the number (from 1; 0: none) of the first
// rule in config order whose patterns a caddyhttp.MatchPath of their own
// matches r with.
func scanRule(t testing.TB, rules []*Rule, r *http.Request) int {
	t.Helper()
	for i, rule := range rules {
		m := caddyhttp.MatchPath(slices.Clone(rule.Path))
		if err := m.Provision(caddy.Context{}); err != nil {
			t.Fatal(err)
		}
		ok, err := m.MatchWithError(r)
		if err != nil {
			t.Fatalf("%s: %v", rule.name, err)
		}
		if ok {
			return i + 1
		}
	}
	return 0
}

// indexRule is the number (from 1; 0: none) of the rule x matches r with.
func indexRule(t testing.TB, x *ruleIndex, r *http.Request) int {
	t.Helper()
	rule, err := x.match(r)
	if err != nil {
		t.Fatalf("index: %v", err)
	}
	if rule == nil {
		return 0
	}
	return slices.Index(x.rules, rule) + 1
}

// wireRequest is a GET of target (a request-target, escaped as on the
// wire) as Caddy's handlers get it: parsed by net/http's server code
// (which sets URL.Path, and URL.RawPath when the escaping is not the
// default one), then prepared by Caddy (replacer, variables).
func wireRequest(target string) (*http.Request, error) {
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(
		"GET " + target + " HTTP/1.1\r\nHost: Example.com\r\n\r\n")))
	if err != nil {
		return nil, err
	}
	return caddyhttp.PrepareRequest(r, caddy.NewReplacer(), httptest.NewRecorder(), nil), nil
}

// TestRuleIndexCases checks the index's choice on the cases that make
// Caddy's path matcher subtle, against both the rule a user expects and
// the ordered scan over caddyhttp.MatchPath.
func TestRuleIndexCases(t *testing.T) {
	rules := indexRules(t, [][]string{
		/* 1 */ {"/DL/*"},
		/* 2 */ {"/robots.txt", "/Exact/"},
		/* 3 */ {"*.JPG"},
		/* 4 */ {"/img/*"},
		/* 5 */ {"/a%2fb/*"},
		/* 6 */ {"//double/*"},
		/* 7 */ {"/mid/*/x"},
		/* 8 */ {"/t1*"},
		/* 9 */ {"/t10/*"},
		/* 10 */ {"/glob?/*", "/lit[/*"},
		/* 11 */ {"*"},
		/* 12 */ {"/never/*"},
	})
	x := newRuleIndex(rules)
	for _, tc := range []struct {
		target string
		want   int
	}{
		{"/dl/a", 1},
		{"/Dl/A", 1},
		{"/dl", 11},          // "/dl/*" needs the slash
		{"/x/../dl/a", 1},    // cleaned
		{"/dl%2Fa", 1},       // decoded before matching: /dl/a
		{"/%2e%2e/dl/a", 1},  // decoded, then cleaned
		{"//dl//a", 1},       // doubled slashes merged
		{"/ROBOTS.TXT", 2},   // exact, case-insensitive
		{"/robots.txt/", 11}, // the trailing slash is kept
		{"/exact/", 2},
		{"/exact", 11},
		{"/dl/x.jpg", 1},   // rule 1 comes first
		{"/img/x.jpg", 3},  // rule 3 comes first
		{"/img/x.png", 4},  //
		{"/a%2Fb/c", 5},    // '%' pattern: compared in escaped space
		{"/a/b/c", 11},     // not rule 5
		{"//double/x", 6},  // "//" pattern: slashes kept
		{"/double/x", 11},  //
		{"/mid/q/x", 7},    // path.Match
		{"/t1", 8},         // "/t1*" is a plain prefix
		{"/t10/x", 8},      // and comes before "/t10/*"
		{"/glob%3F/x", 10}, // '?' is literal in a prefix pattern
		{"/lit[/x", 10},    //
		{"/other", 11},     // "*" matches everything
		{"/never/x", 11},   // so rule 12 never answers
		{"http://Example.com", 11},
		{"*", 11},
		{"/d%C3%A9j%C3%A0", 11},
	} {
		r, err := wireRequest(tc.target)
		if err != nil {
			t.Fatalf("%s: %v", tc.target, err)
		}
		got, scan := indexRule(t, x, r), scanRule(t, rules, r)
		if got != tc.want || scan != tc.want {
			t.Errorf("%s: index picks rule %d, the ordered scan %d; want %d", tc.target, got, scan, tc.want)
		}
	}
}

// TestRuleIndexNoMatch checks that a request no rule matches gets no rule,
// and that a config without a catch-all still matches its own rules,
// including the one that matches an empty path, which the matcher cleans
// to ".".
func TestRuleIndexNoMatch(t *testing.T) {
	rules := indexRules(t, [][]string{{"/a/*"}, {"*.jpg"}, {"/b"}, {"."}})
	x := newRuleIndex(rules)
	for target, want := range map[string]int{"/a/x": 1, "/x.JPG": 2, "/B": 3, "/c": 0, "/": 0, "http://h": 4, "http://h/": 0} {
		r, err := wireRequest(target)
		if err != nil {
			t.Fatal(err)
		}
		if got := indexRule(t, x, r); got != want {
			t.Errorf("%s: rule %d, want %d", target, got, want)
		}
	}
}

// TestRuleIndexDifferential is the differential test of the index: random
// rule sets (1 to 50 rules of 1 to 3 prefix, exact, suffix, substring,
// middle-'*', '%'-holding, "//"-holding, glob and placeholder patterns in
// mixed case) and random request targets (dot segments, percent-escapes,
// mixed case, doubled and trailing slashes, unicode), many derived from
// the rules' own patterns so that most requests match something: the
// index picks the rule the ordered scan over caddyhttp.MatchPath picks,
// every time. The seed is logged; RULEINDEX_SEED=<n> replays it.
func TestRuleIndexDifferential(t *testing.T) {
	seed := mrand.Uint64()
	if v := os.Getenv("RULEINDEX_SEED"); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	sets, perSet := 400, 64
	if testing.Short() {
		sets = 50
	}
	t.Logf("seed %d (RULEINDEX_SEED=%d replays it): %d rule sets, %d requests each", seed, seed, sets, perSet)
	rng := mrand.New(mrand.NewPCG(seed, 13))

	var indexed, scanned, none, unparsable int
	for range sets {
		patterns := randomRuleSet(rng)
		rules := indexRules(t, patterns)
		x := newRuleIndex(rules)
		for range perSet {
			target := randomTarget(rng, patterns)
			r, err := wireRequest(target)
			if err != nil {
				unparsable++
				continue
			}
			got, want := indexRule(t, x, r), scanRule(t, rules, r)
			if got != want {
				t.Fatalf("rules %q, GET %s (path %q, escaped %q): index picks rule %d, the ordered scan rule %d",
					patterns, target, r.URL.Path, r.URL.EscapedPath(), got, want)
			}
			switch {
			case want == 0:
				none++
			case slices.Contains(x.scanned, want-1):
				scanned++
			default:
				indexed++
			}
		}
	}
	total := sets * perSet
	t.Logf("%d requests: %d matched an indexed rule, %d a scanned rule, %d none; %d unparsable", total, indexed, scanned, none, unparsable)
	// the test proves nothing unless each outcome is common
	for name, n := range map[string]int{"indexed": indexed, "scanned": scanned, "none": none} {
		if n < total/10 {
			t.Errorf("only %d of %d requests had the outcome %s", n, total, name)
		}
	}
	if unparsable > total/10 {
		t.Errorf("%d of %d targets unparsable", unparsable, total)
	}
}

// ruleLiterals are the pieces of pattern and path literals: ASCII in both
// cases, characters whose lower case differs in length or script (Kelvin
// sign, dotted capital I, sharp s), dots, glob characters.
var ruleLiterals = []string{
	"a", "B", "dl", "DL", "Dl", "t1", "T1", "t10", "img", "x.jpg", "X.JPG", "é", "É", "\u212a", "k",
	"ß", "İ", "i", "日本", ".", "..", "-", "~", "?", "[", "]", "+", "@", ":",
}

// randomLiteral is a path literal: "/" and 1 to 3 segments, or less.
func randomLiteral(rng *mrand.Rand) string {
	var b strings.Builder
	for n := 1 + rng.IntN(3); n > 0; n-- {
		b.WriteByte('/')
		for m := 1 + rng.IntN(2); m > 0; m-- {
			b.WriteString(ruleLiterals[rng.IntN(len(ruleLiterals))])
		}
	}
	s := b.String()
	switch rng.IntN(16) {
	case 0, 1:
		s = s[:rng.IntN(len(s)+1)] // cut anywhere, even in a character
	case 2:
		s = s[1:] // relative: only "." and ".*" can match (the empty path)
	}
	return s
}

// randomPattern is one path pattern: with probability wild one the index
// cannot hold (suffix, substring, middle '*', '?', '%', "//", placeholder,
// catch-all), else a prefix or an exact path.
func randomPattern(rng *mrand.Rand, wild float64) string {
	lit := randomLiteral(rng)
	seg := ruleLiterals[rng.IntN(len(ruleLiterals))]
	if rng.Float64() >= wild {
		switch rng.IntN(5) {
		case 0, 1:
			return lit + "/*"
		case 2:
			return lit + "*"
		case 3:
			return lit
		}
		return lit + "/"
	}
	switch rng.IntN(9) {
	case 0:
		return "*" + seg // suffix
	case 1:
		return "*" + seg + "*" // substring
	case 2:
		return lit + "/*/" + seg // middle
	case 3:
		return lit + "?" + seg
	case 4, 5: // escaped space
		esc := []string{"%2f", "%2F", "%25", "%2e", "%2E", "%41", "%c3%a9", "%*"}[rng.IntN(8)]
		i := rng.IntN(len(lit) + 1)
		p := lit[:i] + esc + lit[i:]
		if rng.IntN(2) == 0 {
			p += "*"
		}
		return p
	case 6: // doubled slashes kept
		p := lit + "//" + seg
		if rng.IntN(2) == 0 {
			p += "/*"
		}
		return p
	case 7:
		return []string{"/{http.request.host}/*", "/{unknown}" + seg + "*"}[rng.IntN(2)]
	}
	if rng.IntN(8) == 0 {
		return "*" // a catch-all hides the rest: rare
	}
	return "*" + lit
}

// randomRuleSet is 1 to 50 rules of 1 to 3 random patterns in mixed case,
// some sets with few patterns the index cannot hold, some with many.
func randomRuleSet(rng *mrand.Rand) [][]string {
	wild := []float64{0, 0.05, 0.2, 0.5}[rng.IntN(4)]
	rules := make([][]string, 1+rng.IntN(50))
	for i := range rules {
		for n := 1 + rng.IntN(3); n > 0; n-- {
			p := randomPattern(rng, wild)
			if p == "" {
				p = "/"
			}
			rules[i] = append(rules[i], flipCase(rng, p))
		}
	}
	return rules
}

// randomTarget is a request-target: mostly a path derived from one of the
// patterns (wildcards filled), else a random one, then mangled.
func randomTarget(rng *mrand.Rand, rules [][]string) string {
	switch rng.IntN(40) {
	case 0:
		return "*"
	case 1:
		return "http://Example.com" // the empty path
	}
	var s string
	if rng.IntN(4) != 0 {
		p := rules[rng.IntN(len(rules))]
		s = p[rng.IntN(len(p))]
		s = strings.ReplaceAll(s, "{http.request.host}", "example.com")
		s = strings.ReplaceAll(s, "{unknown}", "")
		for strings.Contains(s, "*") {
			fill := ""
			if rng.IntN(4) != 0 {
				fill = strings.TrimPrefix(randomLiteral(rng), "/")
			}
			s = strings.Replace(s, "*", fill, 1)
		}
	} else {
		s = randomLiteral(rng)
	}
	// mangle: dot segments, doubled and trailing slashes, escapes, case
	for n := rng.IntN(3); n > 0; n-- {
		from := rng.IntN(len(s) + 1)
		j := strings.IndexByte(s[from:], '/')
		if j < 0 {
			continue
		}
		j += from
		ins := []string{"/.", "/zz/..", "/", "/%2e", "/%2E%2e/q", "%2F", "%2f/"}[rng.IntN(7)]
		s = s[:j] + ins + s[j:]
	}
	if rng.IntN(5) == 0 {
		s += "/"
	}
	if rng.IntN(3) == 0 {
		s = flipCase(rng, s)
	}
	if !strings.HasPrefix(s, "/") {
		s = "/" + s
	}
	return escapeTarget(rng, s)
}

// flipCase changes the case of some ASCII letters of s.
func flipCase(rng *mrand.Rand, s string) string {
	b := []byte(s)
	for i, c := range b {
		if ('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') && rng.IntN(3) == 0 {
			b[i] = c ^ 0x20
		}
	}
	return string(b)
}

// escapeTarget makes s a valid request-target: it escapes what cannot
// appear raw (and a '%' that starts no escape), and at random some bytes
// that could, with upper- or lower-case hex digits; non-ASCII bytes stay
// raw or are escaped.
func escapeTarget(rng *mrand.Rand, s string) string {
	hex := "0123456789ABCDEF"
	if rng.IntN(2) == 0 {
		hex = "0123456789abcdef"
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteString(s[i : i+3]) // an escape already
			i += 2
			continue
		}
		must := c <= ' ' || c == 0x7f || c == '#' || c == '?' || c == '%'
		if must || (i > 0 && rng.IntN(12) == 0) {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// TestRuleIndexNoAlloc checks that a lookup in a large config allocates
// nothing for a request path that is already clean and lower case.
func TestRuleIndexNoAlloc(t *testing.T) {
	rules := indexRules(t, tenantPatterns(1000))
	x := newRuleIndex(rules)
	for _, target := range []string{"/t1/hot/object.bin", "/t1000/hot/object.bin", "/none/x"} {
		r, err := wireRequest(target)
		if err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() { x.match(r) }); n != 0 {
			t.Errorf("%s: %v allocations per lookup", target, n)
		}
	}
}

// tenantPatterns are n rules /t1/* ... /t<n>/*.
func tenantPatterns(n int) [][]string {
	p := make([][]string, n)
	for i := range p {
		p[i] = []string{"/t" + strconv.Itoa(i+1) + "/*"}
	}
	return p
}

// TestRuleIndexServeHTTP serves requests through a handler with many
// rules, as Caddy provisions it: each request is answered by the first
// rule in config order that matches it, whether its pattern is indexed
// (/t<i>/*) or tried in order (*.jpg, the 10th rule).
func TestRuleIndexServeHTTP(t *testing.T) {
	var b strings.Builder
	b.WriteString(`presign {
	profile s3 s3 {
		bucket media
		region us-east-1
		endpoint http://127.0.0.1:9000
		path_style
		access_key_id AKIDEXAMPLE
		secret_access_key wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
	}
`)
	for i := 1; i <= 30; i++ {
		pattern := "/t" + strconv.Itoa(i) + "/*"
		if i == 10 {
			pattern = "*.jpg"
		}
		fmt.Fprintf(&b, "\trule %s {\n\t\tprofile s3\n\t\tkey r%d/{presign.path}\n\t}\n", pattern, i)
	}
	b.WriteString("}")
	h := newHandler(t, b.String())
	if h.index == nil {
		t.Fatal("30 rules are not indexed")
	}
	for target, want := range map[string]string{
		"/t1/a":      "/media/r1/t1/a",
		"/T30/a":     "/media/r30/T30/a",
		"/t3/a.jpg":  "/media/r3/t3/a.jpg",   // rule 3 before rule 10
		"/t25/a.JPG": "/media/r10/t25/a.JPG", // rule 10 before rule 25
		"/t10/a":     "",                     // rule 10 is *.jpg: no /t10/*
		"/t31/a":     "",
	} {
		a := serve(t, h, http.MethodGet, target)
		if want == "" {
			if !a.Next {
				t.Errorf("%s: answered %d %s, want the next handler", target, a.Code, a.Header.Get("Location"))
			}
			continue
		}
		u, err := url.Parse(a.Header.Get("Location"))
		if a.Code != http.StatusFound || err != nil || u.Path != want {
			t.Errorf("%s: %d %s, want a redirect to %s", target, a.Code, a.Header.Get("Location"), want)
		}
	}
}

// TestRuleIndexConfirms checks that the index confirms each candidate with
// the rule's own matcher, and goes on to the next candidate in config
// order when the matcher says no: here the first rule's matcher is made to
// disagree with the pattern it was indexed by.
func TestRuleIndexConfirms(t *testing.T) {
	rules := indexRules(t, [][]string{{"/a/*"}, {"*.png"}, {"/a/b/*"}, {"/a/*"}})
	x := newRuleIndex(rules)
	rules[0].Path = []string{"/elsewhere/*"}
	rules[0].match = caddyhttp.MatchPath{"/elsewhere/*"}
	for target, want := range map[string]int{"/a/b/c": 3, "/a/c": 4, "/a/b/c.png": 2} {
		r, err := wireRequest(target)
		if err != nil {
			t.Fatal(err)
		}
		if got, scan := indexRule(t, x, r), scanRule(t, rules, r); got != want || scan != want {
			t.Errorf("%s: index picks rule %d, the ordered scan %d; want %d", target, got, scan, want)
		}
	}
}
