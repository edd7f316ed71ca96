package systest

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-presign/presign/systest/harness"
)

// Tests of a site with one rule per tenant, 10,000 rules over 100 S3
// profiles, in a real Caddy process: what it costs must grow with its
// traffic, not with its rules. Signing is local (static keys, no store).

const (
	manyRules    = 10000
	manyProfiles = 100
)

// manyRulesSite is the tenant site: rule /t<i>/* of profile p<i%100>, with
// the key tenants/<i>/{presign.path}; rule 0's key starts with gen, so that
// each config of a reload differs from the last and shows when it serves.
func manyRulesSite(port int, gen string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "http://127.0.0.1:%d {\n\tpresign {\n", port)
	for p := range manyProfiles {
		fmt.Fprintf(&b, "\t\tprofile p%d s3 {\n\t\t\tbucket tenants-%d\n\t\t\tregion us-east-1\n"+
			"\t\t\taccess_key_id AKIAIOSFODNN7EXAMPLE\n\t\t\tsecret_access_key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n\t\t}\n", p, p)
	}
	for i := range manyRules {
		prefix := "tenants"
		if i == 0 {
			prefix = gen
		}
		fmt.Fprintf(&b, "\t\trule /t%d/* {\n\t\t\tprofile p%d\n\t\t\tstrip_prefix /t%d\n\t\t\tkey %s/%d/{presign.path}\n\t\t}\n",
			i, i%manyProfiles, i, prefix, i)
	}
	b.WriteString("\t}\n\trespond \"next\" 418\n}\n")
	return b.String()
}

// manyRulesLocation is the start of the redirect of rule i for key k.
func manyRulesLocation(i int, prefix, k string) string {
	return fmt.Sprintf("https://tenants-%d.s3.us-east-1.amazonaws.com/%s/%d/%s?", i%manyProfiles, prefix, i, k)
}

// presignSeries returns the samples of the presign handler's metrics in
// /metrics text, by name and labels.
func presignSeries(text string) map[string]float64 {
	series := map[string]float64{}
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, "caddy_presign_") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, _ := strconv.ParseFloat(line[i+1:], 64)
		series[line[:i]] = v
	}
	return series
}

// TestManyRulesSeries: a site of 10,000 rules has no presign series before
// traffic (at most 1,000 are allowed); after requests to 100 of its rules,
// /metrics holds exactly the series of those rules' (method, outcome) pairs
// with their counts, labelled by the rules' path patterns, and the signing
// time of the profiles that signed.
func TestManyRulesSeries(t *testing.T) {
	port := harness.Port(t)
	p := harness.StartCaddy(t, manyRulesSite(port, "tenants"), []int{port}, "metrics")
	before := presignSeries(p.Metrics())
	t.Logf("presign series before traffic: %d", len(before))
	if len(before) > 1000 {
		t.Fatalf("%d presign series before any request, want at most 1,000", len(before))
	}

	base := "http://127.0.0.1:" + strconv.Itoa(port)
	client := harness.LoadClient(1)
	defer client.CloseIdleConnections()
	want := map[string]float64{}
	signed := map[int]float64{} // by profile
	for n := range 100 {
		i := n*97 + 13 // 100 rules spread over the 10,000, 100 profiles
		rule := fmt.Sprintf(`profile="p%d",rule="/t%d/*"`, i%manyProfiles, i)
		reqs := []manyReq{{"GET", "/a.txt", "signed", 302}}
		switch n % 4 { // and one more of another (method, outcome)
		case 1:
			reqs = append(reqs, manyReq{"HEAD", "/a.txt", "signed", 302})
		case 2:
			reqs = append(reqs, manyReq{"GET", "/a//b", "bad_key", 400})
		case 3:
			reqs = append(reqs, manyReq{"PUT", "/a.txt", "method_not_allowed", 405})
		}
		for _, r := range reqs {
			code, hdr, _, err := harness.Do(t.Context(), client, r.method, fmt.Sprintf("%s/t%d%s", base, i, r.path))
			if err != nil || code != r.code {
				t.Fatalf("%s /t%d%s: %d %v, want %d", r.method, i, r.path, code, err, r.code)
			}
			if code == 302 && !strings.HasPrefix(hdr.Get("Location"), manyRulesLocation(i, "tenants", "a.txt")) {
				t.Fatalf("%s /t%d%s: Location %q", r.method, i, r.path, hdr.Get("Location"))
			}
			want[fmt.Sprintf(`caddy_presign_answers_total{method="%s",outcome="%s",%s}`, r.method, r.outcome, rule)]++
			if r.outcome == "signed" {
				signed[i%manyProfiles]++
			}
		}
	}
	for prof, n := range signed {
		want[fmt.Sprintf(`caddy_presign_sign_duration_seconds_count{profile="p%d"}`, prof)] = n
	}

	got := presignSeries(p.Metrics())
	answers := 0
	for s, v := range got {
		switch {
		case strings.HasPrefix(s, "caddy_presign_answers_total{"):
			answers++
			if want[s] != v {
				t.Errorf("%s = %v, want %v", s, v, want[s])
			}
		case strings.HasPrefix(s, "caddy_presign_sign_duration_seconds_count{"):
			if want[s] != v {
				t.Errorf("%s = %v, want %v", s, v, want[s])
			}
		}
	}
	for s, v := range want {
		if _, ok := got[s]; !ok {
			t.Errorf("%s missing, want %v", s, v)
		}
	}
	wantAnswers := 0
	for s := range want {
		if strings.HasPrefix(s, "caddy_presign_answers_total{") {
			wantAnswers++
		}
	}
	t.Logf("presign series after requests to 100 rules: %d, of which answers_total: %d (want %d)", len(got), answers, wantAnswers)
	if answers != wantAnswers {
		t.Errorf("%d series of caddy_presign_answers_total, want %d: those of the (method, outcome) pairs used", answers, wantAnswers)
	}
}

// manyReq is a request of TestManyRulesSeries and the outcome it counts.
type manyReq struct {
	method, path, outcome string
	code                  int
}

// TestManyRulesReloadHeap: a Caddy process with the 10,000 rules is
// reloaded 3 times through its admin API, each time with a config whose
// rule 0 has another key, and serves requests to 100 rules after each
// load. After a forced garbage collection, its live heap is within 10% of
// what it was after the first load: nothing of an old config stays
// reachable (its rules, profiles, caches, metrics).
func TestManyRulesReloadHeap(t *testing.T) {
	port := harness.Port(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	p := harness.StartCaddy(t, manyRulesSite(port, "gen0"), []int{port}, "metrics")
	client := harness.LoadClient(1)
	defer client.CloseIdleConnections()
	serve := func(gen string) {
		t.Helper()
		for n := range 100 {
			i := n * 100
			code, hdr, _, err := harness.Do(t.Context(), client, "GET", fmt.Sprintf("%s/t%d/k", base, i))
			prefix := "tenants"
			if i == 0 {
				prefix = gen
			}
			if err != nil || code != 302 || !strings.HasPrefix(hdr.Get("Location"), manyRulesLocation(i, prefix, "k")) {
				t.Fatalf("GET /t%d/k after loading %s: %d %q %v", i, gen, code, hdr.Get("Location"), err)
			}
		}
		p.Metrics() // the registry's series are gathered too
	}
	// Caddy shuts the old config's servers down in the background once a
	// reload returned; until they are down (a moment, at most the grace
	// period) that config is live too. settled reads the live heap until
	// it is at most limit, for 15 s at most: what a leak would keep never
	// falls under it.
	settled := func(limit int64) int64 {
		deadline := time.Now().Add(15 * time.Second)
		for {
			h := p.LiveHeap()
			if h <= limit || time.Now().After(deadline) {
				return h
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	serve("gen0")
	first := p.LiveHeap()
	limit := first + first/10
	heaps := []int64{first}
	for _, gen := range []string{"gen1", "gen2", "gen3"} {
		p.Reload(manyRulesSite(port, gen))
		serve(gen)
		heaps = append(heaps, settled(limit))
	}
	t.Logf("live heap after the first load and each reload (MiB): %.1f %.1f %.1f %.1f",
		mib(heaps[0]), mib(heaps[1]), mib(heaps[2]), mib(heaps[3]))
	if last := heaps[3]; last > limit {
		t.Errorf("live heap after 3 reloads %.1f MiB, more than 10%% over the %.1f MiB after the first load", mib(last), mib(first))
	}
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// TestManyRulesTrafficThroughReload: 4 workers request random rules of the
// 10,000 over keep-alive while the site is reloaded through the admin API;
// every request is answered with its redirect, by the old config or the new
// one (rule 0 tells which), none fails. Bounded: the reload's time plus a
// second, at most 60 s.
func TestManyRulesTrafficThroughReload(t *testing.T) {
	const workers = 4
	port := harness.Port(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	p := harness.StartCaddy(t, manyRulesSite(port, "old"), []int{port})
	client := harness.LoadClient(workers)
	defer client.CloseIdleConnections()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	seen := make([]map[string]int, workers) // rule 0's key prefix -> answers, per worker
	for w := range seen {
		seen[w] = map[string]int{}
	}
	wait := harness.Load(ctx, workers, func(w, n int) error {
		i := (w*7919 + n*104729) % manyRules
		if n%10 == 0 {
			i = 0
		}
		code, hdr, _, err := harness.Do(context.Background(), client, "GET", fmt.Sprintf("%s/t%d/k%d", base, i, n))
		if err != nil || code != http.StatusFound {
			return fmt.Errorf("worker %d: GET /t%d/k%d: %d %v", w, i, n, code, err)
		}
		loc := hdr.Get("Location")
		for _, prefix := range []string{"old", "new", "tenants"} {
			if (i == 0) == (prefix != "tenants") && strings.HasPrefix(loc, manyRulesLocation(i, prefix, "k"+strconv.Itoa(n))) {
				if i == 0 {
					seen[w][prefix]++
				}
				return nil
			}
		}
		return fmt.Errorf("worker %d: GET /t%d/k%d: Location %q", w, i, n, loc)
	})
	time.Sleep(time.Second)
	start := time.Now()
	p.Reload(manyRulesSite(port, "new"))
	took := time.Since(start)
	time.Sleep(time.Second)
	cancel()
	total, failures := wait()

	counts := map[string]int{}
	for _, s := range seen {
		for k, v := range s {
			counts[k] += v
		}
	}
	t.Logf("%d requests through a reload of %v; rule 0 answered by the old and new config: %v", total, took.Round(time.Millisecond), counts)
	for _, f := range failures {
		t.Error(f)
	}
	if keys := slices.Sorted(maps.Keys(counts)); !slices.Equal(keys, []string{"new", "old"}) {
		t.Errorf("rule 0 answered by configs %v, want both the old and the new", keys)
	}
}
