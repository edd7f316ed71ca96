package presign

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// scanRules is the most rules matched by trying each in turn; more are
// looked up in a ruleIndex. A lookup (normalising the path, the walk, one
// MatchPath to confirm) costs about one and a half path matches
// (BenchmarkRuleLookup): a config of a handful of rules keeps the cost it
// had, and the index pays from the second rule on.
const scanRules = 4

// ruleIndex finds the first rule, in config order, whose path patterns
// match a request, without trying every rule. It is a filter: the rules it
// names as candidates include the first matching rule, and each candidate
// is confirmed, in config order, with the rule's own caddyhttp.MatchPath;
// so its answer is the ordered scan's.
//
// Prefix patterns ("/dl/*") and exact paths ("/robots.txt") are keys of a
// compressed trie, walked once along the request's path in the form
// MatchPath compares them against: lower-cased and cleaned with doubled
// slashes merged. A rule with any other pattern (a suffix "*.jpg", a '*'
// elsewhere, '?', '%', "//", a placeholder) is a candidate for every
// request, in the list of scanned rules.
type ruleIndex struct {
	rules   []*Rule
	trie    *trieNode // nil: no indexed rule
	scanned []int     // the rules tried for every request, in order
}

// trieNode is a node of a compressed trie of pattern literals. The key of
// a node is the concatenation of the labels from the root to it.
type trieNode struct {
	label    string
	prefix   []int       // rules with the pattern key+"*", in order
	exact    []int       // rules with the pattern key, in order
	first    string      // the first byte of each child's label
	children []*trieNode // in the order of first
}

// newRuleIndex indexes provisioned rules by their path patterns.
func newRuleIndex(rules []*Rule) *ruleIndex {
	x := &ruleIndex{rules: rules}
	keys := map[string]*trieNode{}
	for i, r := range rules {
		if slices.ContainsFunc(r.match, notIndexable) {
			x.scanned = append(x.scanned, i)
			continue
		}
		for _, p := range r.match {
			lit, prefix := strings.CutSuffix(p, "*")
			e := keys[lit]
			if e == nil {
				e = &trieNode{}
				keys[lit] = e
			}
			list := &e.exact
			if prefix {
				list = &e.prefix
			}
			if n := len(*list); n == 0 || (*list)[n-1] != i {
				*list = append(*list, i)
			}
		}
	}
	if len(keys) > 0 {
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		slices.Sort(sorted)
		x.trie = buildTrie(sorted, 0, keys)
	}
	return x
}

func notIndexable(p string) bool { return !indexable(p) }

// indexable reports whether a provisioned MatchPath pattern is one that
// MatchPath compares with the lower-cased path cleaned with slashes merged,
// as an exact path (path.Match with no wildcard: equality) or as a prefix
// (a single '*', at the end, not at the start: strings.HasPrefix).
func indexable(p string) bool {
	if p == "" || strings.ContainsAny(p, "{%") || strings.Contains(p, "//") {
		return false
	}
	switch strings.Count(p, "*") {
	case 0:
		return !strings.ContainsAny(p, `?[\`)
	case 1:
		return p[0] != '*' && p[len(p)-1] == '*'
	}
	return false
}

// buildTrie returns the node of keys, which are sorted, unique and share
// their first depth bytes; at holds each key's node, with its rules.
func buildTrie(keys []string, depth int, at map[string]*trieNode) *trieNode {
	first, last := keys[0], keys[len(keys)-1]
	end := depth
	for end < len(first) && end < len(last) && first[end] == last[end] {
		end++
	}
	n := &trieNode{}
	if len(first) == end {
		n = at[first]
		keys = keys[1:]
	}
	n.label = first[depth:end]
	for len(keys) > 0 {
		c := keys[0][end]
		j := 1
		for j < len(keys) && keys[j][end] == c {
			j++
		}
		n.first += string([]byte{c})
		n.children = append(n.children, buildTrie(keys[:j], end, at))
		keys = keys[j:]
	}
	return n
}

// match returns the first rule whose path patterns match r, or nil.
func (x *ruleIndex) match(r *http.Request) (*Rule, error) {
	p := caddyhttp.NormalizedPath(strings.ToLower(r.URL.Path), true)
	if p == "" {
		p = "." // CleanPath's form of the empty path, which MatchPath matches
	}
	next := x.indexed(p, -1)
	scanned := x.scanned
	for {
		i := next
		if len(scanned) > 0 && (i < 0 || scanned[0] <= i) {
			i = scanned[0]
			scanned = scanned[1:]
		}
		if i < 0 {
			return nil, nil
		}
		rule := x.rules[i]
		ok, err := rule.match.MatchWithError(r)
		if err != nil {
			return nil, fmt.Errorf("%s: matching: %v", rule.name, err)
		}
		if ok {
			return rule, nil
		}
		if i == next {
			next = x.indexed(p, i)
		}
	}
}

// indexed returns the first rule after rule `after` with a prefix pattern
// that p starts with or an exact pattern equal to p, or -1.
func (x *ruleIndex) indexed(p string, after int) int {
	best := -1
	for n := x.trie; n != nil; {
		rest, ok := strings.CutPrefix(p, n.label)
		if !ok {
			break
		}
		p = rest
		best = firstAfter(best, n.prefix, after)
		if p == "" {
			return firstAfter(best, n.exact, after)
		}
		c := strings.IndexByte(n.first, p[0])
		if c < 0 {
			break
		}
		n = n.children[c]
	}
	return best
}

// firstAfter is the lower of best (-1: none) and the first rule in list
// (in order) after rule `after`.
func firstAfter(best int, list []int, after int) int {
	for _, i := range list {
		if i > after {
			if best < 0 || i < best {
				return i
			}
			break
		}
	}
	return best
}
