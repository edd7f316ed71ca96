package presign

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	dto "github.com/prometheus/client_model/go"
)

// TestMetricsCountAnswers: answers are counted in Caddy's registry by
// profile, rule, method and outcome, signing time is observed, and a client
// cannot add series with made-up methods. DELETE has its own label.
func TestMetricsCountAnswers(t *testing.T) {
	h, err := parseBlock(`presign {
		profile p s3 {
			bucket my-bucket
			region us-east-1
			access_key_id AKIDEXAMPLE
			secret_access_key wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
		}
		rule /dl/* {
			profile p
		}
		rule /rm/* {
			profile p
			methods DELETE
		}
	}`)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	h2 := new(Handler)
	json.Unmarshal(caddyconfig.JSON(h, nil), h2)
	if err := h2.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	for _, req := range [][2]string{{"GET", "/dl/a"}, {"GET", "/dl/b"}, {"HEAD", "/dl/a"}, {"GET", "/dl/a//b"},
		{"PUT", "/dl/a"}, {"BREW", "/dl/a"}, {"X-MADE-UP", "/dl/a"}, {"GET", "/elsewhere"},
		{"DELETE", "/rm/a"}, {"DELETE", "/rm/a//b"}, {"DELETE", "/dl/a"}, {"GET", "/rm/a"}} {
		serve(t, h2, req[0], req[1])
	}
	fams, err := ctx.GetMetricsRegistry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	var observed uint64
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			switch f.GetName() {
			case "caddy_presign_answers_total":
				if v := m.GetCounter().GetValue(); v > 0 {
					got[labels(m)] = v
				}
			case "caddy_presign_sign_duration_seconds":
				observed += m.GetHistogram().GetSampleCount()
			}
		}
	}
	want := map[string]float64{
		"method=GET,outcome=signed,profile=p,rule=rule 1 (/dl/*)":                2,
		"method=HEAD,outcome=signed,profile=p,rule=rule 1 (/dl/*)":               1,
		"method=GET,outcome=bad_key,profile=p,rule=rule 1 (/dl/*)":               1,
		"method=PUT,outcome=method_not_allowed,profile=p,rule=rule 1 (/dl/*)":    1,
		"method=other,outcome=method_not_allowed,profile=p,rule=rule 1 (/dl/*)":  2,
		"method=DELETE,outcome=method_not_allowed,profile=p,rule=rule 1 (/dl/*)": 1,
		"method=DELETE,outcome=signed,profile=p,rule=rule 2 (/rm/*)":             1,
		"method=DELETE,outcome=bad_key,profile=p,rule=rule 2 (/rm/*)":            1,
		"method=GET,outcome=method_not_allowed,profile=p,rule=rule 2 (/rm/*)":    1,
	}
	if len(got) != len(want) {
		t.Errorf("series with counts: %v\nwant %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if observed != 4 {
		t.Errorf("signing time observed %d times, want 4 (one per signed answer)", observed)
	}
}

func labels(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	return strings.Join(parts, ",")
}
