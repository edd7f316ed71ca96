package presign

import (
	mrand "math/rand/v2"
	"strings"
	"testing"
)

// FuzzRuleIndex is the differential test as a fuzz target: a rule set (one
// rule a line, up to 50, of up to 3 space-separated path patterns) and a
// request-target, from which it also derives a target for each of the
// first patterns (its wildcards filled with the target's path). For every
// target net/http parses, the index picks the rule the ordered scan over
// caddyhttp.MatchPath picks.
func FuzzRuleIndex(f *testing.F) {
	for _, s := range [][2]string{
		{"/dl/*\n*.jpg\n/robots.txt", "/DL/x.JPG"},
		{"/a%2fb/*\n/a/*", "/a%2Fb/c"},
		{"//double/*\n/double/*", "//double/x"},
		{"/mid/*/x /t1*\n/t10/*", "/t10/../t1/%2e%2e/mid/q/x"},
		{"/glob?/* /lit[/*\n/lit[", "/lit%5B/x"},
		{".\n/*", "http://example.com"},
		{"/{http.request.host}/*\n/k/*", "/\u212a/x"},
		{"/é/*\n/É/*", "/%C3%89/x"},
		{"*\n/never", "/never"},
	} {
		f.Add(s[0], s[1])
	}
	rng := mrand.New(mrand.NewPCG(13, 13))
	for range 16 {
		rules := randomRuleSet(rng)
		lines := make([]string, len(rules))
		for i, r := range rules {
			lines[i] = strings.Join(r, " ")
		}
		f.Add(strings.Join(lines, "\n"), randomTarget(rng, rules))
	}

	f.Fuzz(func(t *testing.T, spec, target string) {
		var patterns [][]string
		for line := range strings.SplitSeq(spec, "\n") {
			if p := strings.Fields(line); len(p) > 0 && len(patterns) < 50 {
				patterns = append(patterns, p[:min(len(p), 3)])
			}
		}
		if len(patterns) == 0 {
			return
		}
		rules := indexRules(t, patterns)
		x := newRuleIndex(rules)
		targets := []string{target}
		fill := strings.TrimPrefix(target, "/")
		for _, p := range patterns[:min(len(patterns), 4)] {
			targets = append(targets, strings.ReplaceAll(p[0], "*", fill))
		}
		for _, target := range targets {
			r, err := wireRequest(target)
			if err != nil {
				continue
			}
			if got, want := indexRule(t, x, r), scanRule(t, rules, r); got != want {
				t.Fatalf("rules %q, GET %s (path %q, escaped %q): index picks rule %d, the ordered scan rule %d",
					patterns, target, r.URL.Path, r.URL.EscapedPath(), got, want)
			}
		}
	})
}
