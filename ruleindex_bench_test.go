package presign

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// tenantBlock is a presign block with n rules /t1/* ... /t<n>/*, each with
// its own key prefix, on benchBlock's profile.
func tenantBlock(n int) string {
	var b strings.Builder
	b.WriteString(benchBlock[:strings.Index(benchBlock, "\trule ")])
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "\trule /t%d/* {\n\t\tprofile bench\n\t\tkey t%d/{presign.path}\n\t}\n", i, i)
	}
	b.WriteString("}")
	return b.String()
}

// BenchmarkRuleLookup measures Handler.matchRule alone, as provisioned
// from n rules /t<i>/*, for a GET of a hot key under the first rule and
// under the last: the cost does not grow with n.
func BenchmarkRuleLookup(b *testing.B) {
	benchRules(b, func(h *Handler, r *http.Request) *Rule {
		rule, _ := h.matchRule(r)
		return rule
	})
}

// BenchmarkRuleScan is BenchmarkRuleLookup with the ordered scan of every
// rule's caddyhttp.MatchPath, for comparison: it grows with the rule's
// position.
func BenchmarkRuleScan(b *testing.B) {
	benchRules(b, func(h *Handler, r *http.Request) *Rule {
		for _, rule := range h.Rules {
			if rule.match.Match(r) {
				return rule
			}
		}
		return nil
	})
}

// benchRules runs lookup over handlers of 1 to 10,000 rules /t<i>/*, for
// the first rule and the last.
func benchRules(b *testing.B, lookup func(*Handler, *http.Request) *Rule) {
	for _, n := range []int{1, 10, 100, 1000, 10000} {
		b.Run("rules="+strconv.Itoa(n), func(b *testing.B) {
			h := newBenchHandlerOf(b, tenantBlock(n))
			r, _ := benchRequest(b)
			for _, k := range slices.Compact([]int{1, n}) {
				b.Run("rule="+strconv.Itoa(k), func(b *testing.B) {
					r.URL.Path = "/t" + strconv.Itoa(k) + "/hot/object.bin"
					b.ReportAllocs()
					for b.Loop() {
						if rule := lookup(h, r); rule != h.Rules[k-1] {
							b.Fatalf("got %v, want %s", rule, h.Rules[k-1].name)
						}
					}
				})
			}
		})
	}
}
