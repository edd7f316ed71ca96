package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-presign/presign/systest/harness"
)

// The configuration-cost scenario: a site with one rule per tenant,
// tenantRules rules over tenantProfiles S3 profiles, against the same site
// written as tenantRules static redir routes. It measures what the
// configuration costs, not a request: the time until the last rule answers
// after the start, VmRSS then, the time of a reload through the admin API
// until it takes effect, VmRSS and the live heap after 3 reloads, and the
// presign series on /metrics before any request.
const (
	tenantsScenario = "tenants-10000"
	tenantRules     = 10000
	tenantProfiles  = 100
	tenantReloads   = 3
)

// tenantsCaddyfile is the Caddyfile of one kind ("static" or "presign")
// with its admin API at admin and its site at port; rule 0 redirects under
// gen, so that each reload changes the config and shows when it serves.
func tenantsCaddyfile(kind, admin string, port int, gen string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{\n\tadmin %s\n\tpersist_config off\n\tauto_https off\n\tgrace_period 1s\n\tmetrics\n\tlog {\n\t\tlevel ERROR\n\t}\n}\n\nhttp://127.0.0.1:%d {\n", admin, port)
	prefix := func(i int) string {
		if i == 0 {
			return gen
		}
		return "tenants"
	}
	if kind == "static" {
		for i := range tenantRules {
			fmt.Fprintf(&b, "\tredir /t%d/* https://tenants-%d.s3.us-east-1.amazonaws.com/%s/%d/{path} 302\n",
				i, i%tenantProfiles, prefix(i), i)
		}
	} else {
		b.WriteString("\tpresign {\n")
		for p := range tenantProfiles {
			fmt.Fprintf(&b, "\t\tprofile p%d s3 {\n\t\t\tbucket tenants-%d\n\t\t\tregion us-east-1\n"+
				"\t\t\taccess_key_id AKIAIOSFODNN7EXAMPLE\n\t\t\tsecret_access_key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n\t\t}\n", p, p)
		}
		for i := range tenantRules {
			fmt.Fprintf(&b, "\t\trule /t%d/* {\n\t\t\tprofile p%d\n\t\t\tstrip_prefix /t%d\n\t\t\tkey %s/%d/{presign.path}\n\t\t}\n",
				i, i%tenantProfiles, i, prefix(i), i)
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// tenantsRun is one measurement of one kind.
type tenantsRun struct {
	start, reload       time.Duration // reload: the median of tenantReloads
	rssStart, rssReload int64         // bytes
	heapReload          int64         // live heap after the reloads, bytes
	series              int           // presign samples on /metrics after the one request of the start
}

// tenants runs the configuration-cost scenario, c.rounds times per kind in
// alternating order, and writes its table.
func (c *config) tenants(b *strings.Builder) error {
	dir, err := os.MkdirTemp("", "loadbench-tenants-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	runs := map[string][]tenantsRun{}
	for round := range c.rounds {
		kinds := []string{"static", "presign"}
		if round%2 == 1 {
			slices.Reverse(kinds)
		}
		for _, kind := range kinds {
			r, err := c.tenantsOnce(dir, kind)
			if err != nil {
				return fmt.Errorf("%s, %s: %w", tenantsScenario, kind, err)
			}
			fmt.Fprintf(os.Stderr, "%s %s round %d: start %v, RSS %.0f MiB, reload %v, RSS after %d reloads %.0f MiB (live heap %.1f MiB), series %d\n",
				tenantsScenario, kind, round+1, r.start.Round(time.Millisecond), mib(r.rssStart), r.reload.Round(time.Millisecond),
				tenantReloads, mib(r.rssReload), mib(r.heapReload), r.series)
			runs[kind] = append(runs[kind], r)
		}
	}

	med := func(kind string, f func(tenantsRun) float64) float64 {
		v := make([]float64, 0, len(runs[kind]))
		for _, r := range runs[kind] {
			v = append(v, f(r))
		}
		return median(v)
	}
	fmt.Fprintf(b, "\n### Configuration cost: %d rules over %d S3 profiles against %d static redir routes\n\n", tenantRules, tenantProfiles, tenantRules)
	fmt.Fprintf(b, "A fresh Caddy per run with one site of %d rules (`rule /tN/* { profile pN%%100; strip_prefix /tN; key tenants/N/{presign.path} }`), or of %d `redir /tN/* …` routes, metrics on; %d runs of each in alternating order, medians. Start: from exec until the last rule answers. Reload: a POST of the Caddyfile to the admin API's /load until rule 0 answers with its new target (median of %d). Series: the presign samples on /metrics after the start, whose readiness check is one request to the last rule. RSS after start: right then; after %d reloads: once the last took effect, with the live heap (HeapAlloc after a forced GC, /debug/pprof/heap?gc=1).\n\n",
		tenantRules, tenantRules, c.rounds, tenantReloads, tenantReloads)
	b.WriteString("| | static redir | presign | ratio | target |\n|---|---|---|---|---|\n")
	row := func(what, unit string, f func(tenantsRun) float64, target string) {
		s, p := med("static", f), med("presign", f)
		fmt.Fprintf(b, "| %s | %.2f %s | %.2f %s | **%.2f** | %s |\n", what, s, unit, p, unit, p/s, target)
	}
	row("start until the last rule answers", "s", func(r tenantsRun) float64 { return r.start.Seconds() }, "≤ 1.5")
	row("RSS after start", "MiB", func(r tenantsRun) float64 { return mib(r.rssStart) }, "≤ 1.5")
	row("a reload, until it takes effect", "s", func(r tenantsRun) float64 { return r.reload.Seconds() }, "≤ 1.5")
	row(fmt.Sprintf("RSS after %d reloads", tenantReloads), "MiB", func(r tenantsRun) float64 { return mib(r.rssReload) }, "≤ 1.5")
	row(fmt.Sprintf("live heap after %d reloads", tenantReloads), "MiB", func(r tenantsRun) float64 { return mib(r.heapReload) }, "—")
	fmt.Fprintf(b, "| presign series on /metrics after the start (one request) | | %.0f | | ≤ 1,000 |\n",
		med("presign", func(r tenantsRun) float64 { return float64(r.series) }))
	return nil
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// tenantsOnce starts a Caddy of kind, reloads it tenantReloads times and
// measures it.
func (c *config) tenantsOnce(dir, kind string) (tenantsRun, error) {
	var r tenantsRun
	adminPort, err := harness.FreePort()
	if err != nil {
		return r, err
	}
	port, err := harness.FreePort()
	if err != nil {
		return r, err
	}
	admin := "127.0.0.1:" + strconv.Itoa(adminPort)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	cfg := filepath.Join(dir, kind+".Caddyfile")
	if err := os.WriteFile(cfg, []byte(tenantsCaddyfile(kind, admin, port, "gen0")), 0o600); err != nil {
		return r, err
	}
	client := &http.Client{
		Timeout:       5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer client.CloseIdleConnections()
	adminClient := &http.Client{Timeout: 2 * time.Minute} // a reload answers once it is done
	// answers tells whether rule i redirects under prefix.
	answers := func(i int, prefix string) bool {
		resp, err := client.Get(fmt.Sprintf("%s/t%d/x", base, i))
		if err != nil {
			return false
		}
		resp.Body.Close()
		want := fmt.Sprintf("https://tenants-%d.s3.us-east-1.amazonaws.com/%s/%d/", i%tenantProfiles, prefix, i)
		return resp.StatusCode == http.StatusFound && strings.HasPrefix(resp.Header.Get("Location"), want)
	}
	started := time.Now()
	proc, err := harness.StartProcess(harness.ProcessSpec{
		Path:    c.caddy,
		Args:    []string{"run", "--adapter", "caddyfile", "--config", cfg},
		Env:     append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config")),
		LogPath: filepath.Join(dir, kind+".log"),
		Timeout: time.Minute,
		Ready:   func() bool { return answers(tenantRules-1, "tenants") },
	})
	if err != nil {
		return r, err
	}
	defer proc.Stop(10 * time.Second)
	r.start = time.Since(started)
	if r.rssStart, err = harness.VmRSS(proc.Pid()); err != nil {
		return r, err
	}
	metrics, err := get(adminClient, "http://"+admin+"/metrics")
	if err != nil {
		return r, err
	}
	for _, line := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(line, "caddy_presign_") {
			r.series++
		}
	}

	var reloads []float64
	for n := 1; n <= tenantReloads; n++ {
		gen := "gen" + strconv.Itoa(n)
		body := tenantsCaddyfile(kind, admin, port, gen)
		started := time.Now()
		resp, err := adminClient.Post("http://"+admin+"/load", "text/caddyfile", strings.NewReader(body))
		if err != nil {
			return r, fmt.Errorf("reload %d: %w", n, err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return r, fmt.Errorf("reload %d: %d %s", n, resp.StatusCode, bytes.TrimSpace(msg))
		}
		for !answers(0, gen) {
			if time.Since(started) > time.Minute {
				return r, fmt.Errorf("reload %d: not in effect after a minute", n)
			}
			time.Sleep(10 * time.Millisecond)
		}
		reloads = append(reloads, time.Since(started).Seconds())
	}
	r.reload = time.Duration(median(reloads) * float64(time.Second))
	if r.rssReload, err = harness.VmRSS(proc.Pid()); err != nil {
		return r, err
	}
	r.heapReload, err = harness.AdminLiveHeap(admin)
	return r, err
}

// get returns the body of a GET of u that answers 200.
func get(client *http.Client, u string) (string, error) {
	resp, err := client.Get(u)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %d", u, resp.StatusCode)
	}
	return string(b), err
}
