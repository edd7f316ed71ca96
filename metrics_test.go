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
// profile, rule (its name, or else its path patterns), method and outcome,
// signing time is observed, a client cannot add series with made-up
// methods (DELETE has its own label), rules with the same name count
// together, and only the series of answers given exist: none for a rule
// that answered nothing.
func TestMetricsCountAnswers(t *testing.T) {
	h, err := parseBlock(`presign {
		` + recordingProfile("p") + `
		rule /dl/* {
			profile p
		}
		rule /up/* /up2/* {
			profile p
			name uploads
			methods PUT
		}
		rule /up3/* {
			profile p
			name uploads
			methods PUT
		}
		rule /rm/* {
			profile p
			methods DELETE
		}
		rule /idle/* {
			profile p
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
		{"PUT", "/up2/a"}, {"GET", "/up/a"}, {"PUT", "/up3/a"},
		{"DELETE", "/rm/a"}, {"DELETE", "/rm/a//b"}, {"DELETE", "/dl/a"}, {"GET", "/rm/a"}} {
		serve(t, h2, req[0], req[1])
	}
	fams, err := ctx.GetMetricsRegistry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{} // every series, counted or not
	var observed uint64
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			switch f.GetName() {
			case "caddy_presign_answers_total":
				got[labels(m)] = m.GetCounter().GetValue()
			case "caddy_presign_sign_duration_seconds":
				observed += m.GetHistogram().GetSampleCount()
			}
		}
	}
	want := map[string]float64{
		"method=GET,outcome=signed,profile=p,rule=/dl/*":                2,
		"method=HEAD,outcome=signed,profile=p,rule=/dl/*":               1,
		"method=GET,outcome=bad_key,profile=p,rule=/dl/*":               1,
		"method=PUT,outcome=method_not_allowed,profile=p,rule=/dl/*":    1,
		"method=other,outcome=method_not_allowed,profile=p,rule=/dl/*":  2,
		"method=PUT,outcome=signed,profile=p,rule=uploads":              2,
		"method=GET,outcome=method_not_allowed,profile=p,rule=uploads":  1,
		"method=DELETE,outcome=method_not_allowed,profile=p,rule=/dl/*": 1,
		"method=DELETE,outcome=signed,profile=p,rule=/rm/*":             1,
		"method=DELETE,outcome=bad_key,profile=p,rule=/rm/*":            1,
		"method=GET,outcome=method_not_allowed,profile=p,rule=/rm/*":    1,
	}
	if len(got) != len(want) {
		t.Errorf("series with counts: %v\nwant %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if observed != 6 {
		t.Errorf("signing time observed %d times, want 6 (one per signed answer)", observed)
	}
}

func labels(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	return strings.Join(parts, ",")
}
