package signerstest

import (
	"reflect"
	"slices"
	"testing"

	"github.com/caddy-presign/presign/signers"
)

// combo is one rule of checkCache: for each option that shapes answers,
// the index of its value (0: unset, i: values[i-1]).
type combo struct {
	idx   []int
	o     *signers.Options
	fresh *signers.Signed
}

// checkCache: for every combination of the options the kind declares
// that shape answers, and every method, one profile's answers (from its
// caches, asked three times, interleaved with the other rules') equal a
// fresh profile's; and two rules that differ in one such option never
// share an answer.
func checkCache(t *testing.T, k Kind, p signers.Signer, kind *signers.Kind, methods []string) {
	var shaping []string
	for _, name := range optionNames() {
		if slices.Contains(kind.Options(), name) && len(options[name].affects) > 0 {
			shaping = append(shaping, name)
		}
	}
	at := siteOf(k, p)
	shared := k.New(t, "http://127.0.0.1:9")
	for _, m := range methods {
		t0 := signTime()
		var combos []*combo
		for idx := make([]int, len(shaping)); idx != nil; idx = next(idx, shaping) {
			o := new(signers.Options)
			for i, name := range shaping {
				if idx[i] > 0 {
					options[name].values[idx[i]-1](o, at)
				}
			}
			if shared.CheckRule(ruleInfo(shared, []string{m}, o)) != nil ||
				slices.ContainsFunc(combos, func(c *combo) bool { return reflect.DeepEqual(c.o, o) }) { // a kind's one resource value
				continue
			}
			c := &combo{idx: slices.Clone(idx), o: o}
			c.fresh = sign(t, k.New(t, "http://127.0.0.1:9"), request(t, shared, m, suiteKey, t0, o))
			combos = append(combos, c)
		}
		if len(combos) == 0 {
			t.Fatalf("%s: no rule accepted", m)
		}
		for round := range 3 {
			for _, c := range combos {
				got := sign(t, shared, request(t, shared, m, suiteKey, t0, c.o))
				if !same(got, c.fresh) {
					t.Errorf("%s, rule %s, round %d: the answer differs from a fresh profile's (a cache hit for another rule?)\n got  %s\n want %s",
						m, show(shaping, c.idx), round+1, describe(got), describe(c.fresh))
				}
			}
		}
		for i, a := range combos {
			for _, b := range combos[i+1:] {
				if d := differs(a.idx, b.idx); d >= 0 && slices.Contains(options[shaping[d]].affects, m) && same(a.fresh, b.fresh) {
					t.Errorf("%s: rules %s and %s differ in %s but share the answer %s", m, show(shaping, a.idx), show(shaping, b.idx), shaping[d], describe(a.fresh))
				}
			}
		}
	}
}

// next is the combination after idx, or nil after the last.
func next(idx []int, names []string) []int {
	for i := range idx {
		if idx[i] < len(options[names[i]].values) {
			idx[i]++
			return idx
		}
		idx[i] = 0
	}
	return nil
}

// differs is the one index where a and b differ, or -1 when they differ
// in none or in more.
func differs(a, b []int) int {
	d := -1
	for i := range a {
		if a[i] != b[i] {
			if d >= 0 {
				return -1
			}
			d = i
		}
	}
	return d
}

// show is a combination for a failure message.
func show(names []string, idx []int) string {
	s := "{"
	for i, name := range names {
		if idx[i] > 0 {
			if len(s) > 1 {
				s += " "
			}
			s += name + "#" + string(rune('0'+idx[i]))
		}
	}
	return s + "}"
}

// same tells whether two answers are identical: URL, expiry (instant and
// location), form fields, headers and cookies.
func same(a, b *signers.Signed) bool {
	if a.URL != b.URL || !a.ExpiresAt.Equal(b.ExpiresAt) || a.ExpiresAt.Location().String() != b.ExpiresAt.Location().String() ||
		!reflect.DeepEqual(a.Fields, b.Fields) || !reflect.DeepEqual(a.Headers, b.Headers) || len(a.Cookies) != len(b.Cookies) {
		return false
	}
	for i := range a.Cookies {
		if a.Cookies[i].String() != b.Cookies[i].String() {
			return false
		}
	}
	return true
}
