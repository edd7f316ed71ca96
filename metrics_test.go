package presign

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/caddy-presign/presign/internal/gcsiam"
)

// TestMetricsCountAnswers: answers are counted in Caddy's registry by
// profile, rule (its name, or else its path patterns), method and outcome,
// signing time is observed, a client cannot add series with made-up
// methods (DELETE has its own label), rules with the same name count
// together, and only the series of answers given exist: none for a rule
// that answered nothing.
func TestMetricsCountAnswers(t *testing.T) {
	h, reg := metricsHandler(t, `presign {
		`+recordingProfile("p")+`
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
	for _, req := range [][2]string{
		{"GET", "/dl/a"},
		{"GET", "/dl/b"},
		{"HEAD", "/dl/a"},
		{"GET", "/dl/a//b"},
		{"PUT", "/dl/a"},
		{"BREW", "/dl/a"},
		{"X-MADE-UP", "/dl/a"},
		{"GET", "/elsewhere"},
		{"PUT", "/up2/a"},
		{"GET", "/up/a"},
		{"PUT", "/up3/a"},
		{"DELETE", "/rm/a"},
		{"DELETE", "/rm/a//b"},
		{"DELETE", "/dl/a"},
		{"GET", "/rm/a"},
	} {
		serve(t, h, req[0], req[1])
	}
	got := map[string]float64{} // every series, counted or not
	var observed float64
	for name, v := range gather(t, reg) {
		if l, ok := strings.CutPrefix(name, "caddy_presign_answers_total "); ok {
			got[l] = v
		} else if strings.HasPrefix(name, "caddy_presign_sign_duration_seconds ") {
			observed += v
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
		t.Errorf("signing time observed %v times, want 6 (one per signed answer)", observed)
	}
}

// metricsHandler parses a presign block and provisions it, through its
// JSON config, with a metrics registry of its own, as Caddy does.
func metricsHandler(t *testing.T, block string) (*Handler, prometheus.Gatherer) {
	t.Helper()
	h, err := parseBlock(block)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	h2 := new(Handler)
	json.Unmarshal(caddyconfig.JSON(h, nil), h2)
	if err := h2.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	return h2, ctx.GetMetricsRegistry()
}

// gather returns every series of reg as "<name> <labels>": a counter's
// value, a histogram's count of observations.
func gather(t *testing.T, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			v := m.GetCounter().GetValue()
			if h := m.GetHistogram(); h != nil {
				v = float64(h.GetSampleCount())
			}
			got[f.GetName()+" "+labels(m)] = v
		}
	}
	return got
}

func labels(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	return strings.Join(parts, ",")
}

// TestMetricsRemoteSignatures: a profile that signs without a key (gcs
// through a test IAM Credentials server's signBlob) counts each remote
// call by profile and outcome, and observes its time; answers from the
// URL cache make no call; a refused call is outcome error, and the answer
// a 503 with Retry-After; a profile with a key makes no series.
func TestMetricsRemoteSignatures(t *testing.T) {
	acct := gcsTestAccount(t)
	srv := gcsiam.Start(acct.Email, acct.Key)
	defer srv.Close()
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	t.Setenv("CLOUDSDK_CONFIG", t.TempDir())
	t.Setenv("GCE_METADATA_HOST", srv.MetadataHost())
	h, reg := metricsHandler(t, `presign {
		profile g gcs {
			bucket my-bucket
			service_account `+acct.Email+`
			iam_endpoint `+srv.IAM.URL+`
		}
		profile k gcs {
			bucket my-bucket
			service_account_file `+acct.File+`
		}
		rule /dl/* {
			profile g
			stable 1m
		}
		rule /k/* {
			profile k
		}
	}`)
	for _, p := range []string{"/dl/a", "/dl/a", "/k/a"} {
		if a := serve(t, h, "GET", p); a.Code != http.StatusFound {
			t.Fatalf("GET %s: %d", p, a.Code)
		}
	}
	srv.Refuse(true)
	if a := serve(t, h, "GET", "/dl/b"); a.Code != http.StatusServiceUnavailable || a.Header.Get("Retry-After") == "" {
		t.Errorf("signBlob refused: %d, Retry-After %q; want 503 with Retry-After", a.Code, a.Header.Get("Retry-After"))
	}
	got := map[string]float64{}
	for name, v := range gather(t, reg) {
		if strings.HasPrefix(name, "caddy_presign_remote_") {
			got[name] = v
		}
	}
	want := map[string]float64{
		"caddy_presign_remote_signatures_total outcome=ok,profile=g":    1,
		"caddy_presign_remote_signatures_total outcome=error,profile=g": 1,
		"caddy_presign_remote_sign_duration_seconds profile=g":          2,
	}
	if !maps.Equal(got, want) {
		t.Errorf("remote signing series %v, want %v", got, want)
	}
}
