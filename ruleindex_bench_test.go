package presign

import (
	"fmt"
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
	benchRules(b, func(h *Handler, b *testing.B) {
		r, _ := benchRequest(b)
		for _, k := range slices.Compact([]int{1, len(h.Rules)}) {
			b.Run("rule="+strconv.Itoa(k), func(b *testing.B) {
				r.URL.Path = "/t" + strconv.Itoa(k) + "/hot/object.bin"
				b.ReportAllocs()
				for b.Loop() {
					if rule, err := h.matchRule(r); err != nil || rule != h.Rules[k-1] {
						b.Fatalf("rule %v, error %v", rule, err)
					}
				}
			})
		}
	})
}

// BenchmarkRuleScan is BenchmarkRuleLookup with the ordered scan of every
// rule's caddyhttp.MatchPath, for comparison: it grows with the rule's
// position.
func BenchmarkRuleScan(b *testing.B) {
	benchRules(b, func(h *Handler, b *testing.B) {
		r, _ := benchRequest(b)
		for _, k := range slices.Compact([]int{1, len(h.Rules)}) {
			b.Run("rule="+strconv.Itoa(k), func(b *testing.B) {
				r.URL.Path = "/t" + strconv.Itoa(k) + "/hot/object.bin"
				b.ReportAllocs()
				for b.Loop() {
					i := 0
					for i < len(h.Rules) && !h.Rules[i].match.Match(r) {
						i++
					}
					if i != k-1 {
						b.Fatalf("rule %d", i+1)
					}
				}
			})
		}
	})
}

func benchRules(b *testing.B, run func(*Handler, *testing.B)) {
	for _, n := range []int{1, 10, 100, 1000, 10000} {
		b.Run("rules="+strconv.Itoa(n), func(b *testing.B) {
			run(newBenchHandlerOf(b, tenantBlock(n)), b)
		})
	}
}
