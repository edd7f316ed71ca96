// Command loadbench measures what presigning costs Caddy, against Caddy's own
// static redir in the same process. ./bench/run.sh builds Caddy and
// loadbench and runs it; see BENCHMARKS.md.
//
// For each scenario it runs wrk (bench/paths.lua) against the static route
// and the presign route in turns, several rounds in alternating order, and
// takes Caddy's CPU time (utime+stime of /proc/PID/stat) over each run
// divided by the requests served: the cost per request. The ratio
// cost_static/cost_presign is 1.0 when presigning costs as little as the
// static redirect. Any answer that is not a 3xx, or any socket error, voids
// the scenario. The routes with kms_key sign through a local-kms that it
// starts only for their scenarios, behind the harness's proxy, which counts
// the kms:Sign calls of each run. A second, fresh Caddy then serves
// MEM_DURATION of load while its VmRSS is sampled, against its idle RSS
// after a warm start.
//
// Everything runs on 127.0.0.1; every loop is bounded.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-presign/presign/systest/harness"
)

// scenario is a presign route under one kind of load, compared with the
// static route under the same kind of load.
type scenario struct {
	name   string
	prefix string  // the presign route
	mode   string  // unique or hot (paths.lua)
	target float64 // the least acceptable ratio; 0: none (informative)
	what   string
	vsRSA  bool // compared with the raw RSA signing rate, not the static route
	// base is the route compared with when not the static redir (file_server
	// browse for browse scenarios, in the same mode; file_server for
	// local-serve); for browse scenarios, maxRatio is the most acceptable
	// ratio of presign's CPU per request to base's
	base     string
	maxRatio float64
}

var scenarios = []scenario{
	{"s3-unique", "/dl/", "unique", 0.90, "S3 GET, a new key on every request (every request signed)", false, "", 0},
	{"s3-hot", "/dl/", "hot", 0.95, "S3 GET, one hot key (URL cache: one signature per second)", false, "", 0},
	{"cf-stable-hot", "/cf/", "hot", 0.90, "CloudFront, stable 1m, one hot key", false, "", 0},
	{"cf-unique", "/cfu/", "unique", 0.90, "CloudFront without stable, a new key on every request (an RSA-2048 signature each)", true, "", 0},
	{"azure-unique", "/az/", "unique", 0.85, "Azure GET, a new key on every request (every request signed)", false, "", 0},
	{"gcs-stable-hot", "/gcs/", "hot", 0.90, "native GCS, stable 1m, one hot key", false, "", 0},
	{"cf-kms-stable-hot", "/cfk/", "hot", 0.90, "CloudFront through KMS (kms_key, local-kms), stable 1m, one hot key", false, "", 0},
	{"local-unique", "/lk/", "unique", 0.90, "local link (HMAC-SHA256), a new key on every request", false, "", 0},
	{"local-serve", serveRoute, "serve", 0.90, "a signed 1 KiB file through the local guard and file_server, one hot link; " +
		"against file_server serving it unsigned (not the static redir)", false, plainRoute, 0},
	{"s3-check-exists-hot", "/ce/", "hot", 0.85, "S3 GET with check_exists (10s), one hot key (one HeadObject per window)", false, "", 0},
	{"rules-1-of-1", "/u1/", "hot", 0, "S3 GET, one hot key, the only rule of its handler", false, "", 0},
	{"rules-1-of-1000", "/t1/", "hot", 0, "S3 GET, one hot key, rule 1 of 1000", false, "", 0},
	{"rules-100-of-1000", "/t100/", "hot", 0, "S3 GET, one hot key, rule 100 of 1000", false, "", 0},
	{"rules-1000-of-1000", "/t1000/", "hot", 0, "S3 GET, one hot key, rule 1000 of 1000", false, "", 0},
	// not run unless named: listings of 1,000 entries against file_server
	// browse on a folder of 1,000 files (the store answers in another
	// process), and calibration
	{"browse-s3-json", "/s3b/", "json", 0, "S3 browse, 1,000 objects, as JSON", false, fileServerRoute, 1.5},
	{"browse-s3-html", "/s3b/", "html", 0, "S3 browse, 1,000 objects, as HTML", false, fileServerRoute, 1.0},
	{"browse-gcs-json", "/gcsb/", "json", 0, "GCS browse, 1,000 objects, as JSON", false, fileServerRoute, 1.5},
	{"browse-gcs-html", "/gcsb/", "html", 0, "GCS browse, 1,000 objects, as HTML", false, fileServerRoute, 1.0},
	{"browse-azure-json", "/azb/", "json", 0, "Azure browse, 1,000 blobs, as JSON", false, fileServerRoute, 1.5},
	{"browse-azure-html", "/azb/", "html", 0, "Azure browse, 1,000 blobs, as HTML", false, fileServerRoute, 1.0},
	{"cf-kms-unique", "/cfku/", "unique", 0, "CloudFront through KMS without stable, a new key on every request (a kms:Sign round trip each)", false, "", 0},
	{"static-aa", "/static2/", "hot", 0, "A/A: the static redir against a copy of itself on another port (the method's noise)", false, "", 0},
}

// defaultScenarios run when none are named.
var defaultScenarios = []string{
	"s3-unique", "s3-hot", "cf-stable-hot", "cf-unique", "cf-kms-stable-hot", "azure-unique", "gcs-stable-hot", "local-unique", "local-serve", "s3-check-exists-hot",
	"rules-1-of-1", "rules-1-of-1000", "rules-100-of-1000", "rules-1000-of-1000",
}

type config struct {
	caddy, repo, out       string
	duration, memDuration  time.Duration
	rounds, conns, threads int
	only                   []string
	rsaBench               string    // the test binary of loadbench, for BenchmarkRawRSA2048
	storeEnv               []string  // BENCH_S3_*: the versitygw of the check_exists route; the stores of the browse routes
	kms                    *benchKMS // the KMS of the kms routes, when a selected scenario signs through it
	maxLoad                float64
	waitLoad               time.Duration
	clkTck                 float64
	warmup                 time.Duration
}

// run is one wrk run against one route.
type run struct {
	route    string // static or presign
	requests int64
	bad      int64 // answers not of the expected status (3xx; 200 for listings)
	errors   int64
	rps      float64
	cpu      time.Duration // Caddy's CPU time over the run
	signs    int64         // kms:Sign calls Caddy made over the run
	load1    float64       // 1-minute load average when the run started
}

func (r run) costPerReq() time.Duration {
	if r.requests == 0 {
		return 0
	}
	return r.cpu / time.Duration(r.requests)
}

func main() {
	var c config
	flag.StringVar(&c.caddy, "caddy", "", "the Caddy binary with the presign module")
	flag.StringVar(&c.repo, "repo", ".", "the repository root (bench/Caddyfile, bench/paths.lua, signers/*/testdata)")
	flag.StringVar(&c.out, "out", "", "write the results (markdown) to this file too")
	flag.DurationVar(&c.duration, "duration", 10*time.Second, "wrk duration of each run")
	flag.DurationVar(&c.memDuration, "mem-duration", 60*time.Second, "load duration of the memory check (0: skip it)")
	flag.DurationVar(&c.warmup, "warmup", 2*time.Second, "wrk warm-up on each route before measuring")
	flag.IntVar(&c.rounds, "rounds", 3, "rounds per scenario, in alternating order")
	flag.IntVar(&c.conns, "conns", 32, "wrk connections")
	flag.IntVar(&c.threads, "threads", 2, "wrk threads")
	scen := flag.String("scenarios", "", "comma-separated scenarios to run, tenants-10000 included (default: all but static-aa, the A/A calibration)")
	flag.StringVar(&c.rsaBench, "rsa-bench", "", "the test binary of loadbench (go test -c ./loadbench in systest), run for the raw RSA rate of cf-unique")
	flag.Float64Var(&c.maxLoad, "max-load", 1.5, "wait (up to -wait-load) for the 1-minute load average to fall under this before measuring")
	flag.DurationVar(&c.waitLoad, "wait-load", 0, "how long to wait for a low load at most")
	flag.Parse()
	if *scen != "" {
		c.only = strings.Split(*scen, ",")
	}
	if c.caddy == "" {
		fatalf("-caddy is required")
	}
	c.clkTck = clockTicks()
	if err := c.main(); err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "loadbench: "+format+"\n", args...)
	os.Exit(1)
}

func (c *config) main() error {
	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "## Results %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "Machine: %s, %d CPUs (%s), %s. Load average at start: %s.\n",
		host, runtime.NumCPU(), cpuModel(), kernel(), loadavgString())
	fmt.Fprintf(&b, "wrk: %d threads, %d connections, %s per run, %d rounds per scenario in alternating order, after a %s warm-up per route; wrk, Caddy and anything else on the machine share its CPUs (nothing pinned).\n\n",
		c.threads, c.conns, c.duration, c.rounds, c.warmup)

	if c.waitLoad > 0 {
		waitForLoad(c.maxLoad, c.waitLoad)
	}

	store, err := c.startStore()
	if err != nil {
		return err
	}
	defer store.stop()

	var selected []scenario
	for _, s := range scenarios {
		if len(c.only) == 0 && slices.Contains(defaultScenarios, s.name) || slices.Contains(c.only, s.name) {
			selected = append(selected, s)
		}
	}
	lists, err := c.startListStores(store, selected)
	if err != nil {
		return err
	}
	defer lists.stop()
	if err := c.startKMS(selected); err != nil {
		return err
	}
	defer c.kms.stop()
	if len(selected) > 0 {
		if err := c.ratios(&b, selected); err != nil {
			return err
		}
	}
	if c.memDuration > 0 {
		if err := c.memory(&b); err != nil {
			return err
		}
	}
	if len(c.only) == 0 || slices.Contains(c.only, tenantsScenario) {
		if err := c.tenants(&b); err != nil {
			return err
		}
	}
	fmt.Fprintf(&b, "\nLoad average at the end: %s.\n", loadavgString())
	fmt.Print("\n" + b.String())
	if c.out != "" {
		if err := os.MkdirAll(filepath.Dir(c.out), 0o755); err != nil {
			return err
		}
		return os.WriteFile(c.out, []byte(b.String()), 0o644) //nolint:gosec // G306: the results page, a file of the repository that anyone may read
	}
	return nil
}

// ratios runs the scenarios on one Caddy and writes their table.
func (c *config) ratios(b *strings.Builder, selected []scenario) error {
	p, err := c.startCaddy()
	if err != nil {
		return err
	}
	defer p.stop()

	// warm up every route once: lazy work (first signing keys, pools,
	// connections, heap growth) is not what is measured; a listing route
	// only when a scenario lists it (its store runs only then)
	for _, r := range routes {
		if _, ok := p.ports[r.prefix]; !ok {
			continue
		}
		mode := "unique"
		if isServe(r.prefix) {
			mode = "serve"
		}
		if r.browse {
			if !slices.ContainsFunc(selected, func(s scenario) bool { return s.prefix == r.prefix || s.base == r.prefix }) {
				continue
			}
			mode = "json"
		}
		if _, err := c.wrk(p, r.prefix, mode, c.warmup); err != nil {
			return fmt.Errorf("warm-up %s: %v", r.prefix, err)
		}
	}

	var rows, browseRows, notes []string
	cost := map[string]time.Duration{} // pooled presign CPU per request, by scenario
	for _, s := range selected {
		var static, presign []run
		var ratios, rsaRates, rsaFracs, rsaCPUFracs []float64
		var sigCPUs []time.Duration
		void := ""
		for round := range c.rounds {
			order := []string{"static", "presign"}
			if round%2 == 1 {
				order = []string{"presign", "static"}
			}
			var st, pr run
			var rate float64
			var sigCPU time.Duration
			base := "/static/"
			if s.base != "" {
				base = s.base
			}
			for _, route := range order {
				if route == "static" && s.vsRSA {
					// the baseline is the raw signing rate, measured
					// next to each run: the machine's load changes
					if rate, sigCPU, err = c.rawRSA(); err != nil {
						return err
					}
					fmt.Fprintf(os.Stderr, "%-14s round %d raw RSA %8.0f signatures/s %7.2f µs CPU/sig load=%.2f\n",
						s.name, round+1, rate, micros(sigCPU), loadavg1())
					continue
				}
				prefix := base
				if route == "presign" {
					prefix = s.prefix
				}
				r, err := c.wrk(p, prefix, s.mode, c.duration)
				if err != nil {
					return fmt.Errorf("%s %s: %v", s.name, route, err)
				}
				r.route = route
				fmt.Fprintf(os.Stderr, "%-14s round %d %-7s %8d req %9.0f req/s %7.2f µs CPU/req bad=%d errors=%d load=%.2f\n",
					s.name, round+1, route, r.requests, r.rps, micros(r.costPerReq()), r.bad, r.errors, r.load1)
				if r.bad > 0 || r.errors > 0 {
					void = fmt.Sprintf("VOID: %s round %d: %d answers of another status than expected, %d socket errors", route, round+1, r.bad, r.errors)
				}
				if r.requests == 0 || r.cpu == 0 {
					void = fmt.Sprintf("VOID: %s round %d: no requests or no CPU time measured", route, round+1)
				}
				if route == "static" {
					st = r
				} else {
					pr = r
				}
			}
			presign = append(presign, pr)
			if s.vsRSA {
				rsaRates = append(rsaRates, rate)
				rsaFracs = append(rsaFracs, pr.rps/rate)
				rsaCPUFracs = append(rsaCPUFracs, float64(sigCPU)/float64(pr.costPerReq()))
				sigCPUs = append(sigCPUs, sigCPU)
				continue
			}
			static = append(static, st)
			if pr.costPerReq() > 0 {
				ratios = append(ratios, float64(st.costPerReq())/float64(pr.costPerReq()))
			}
		}
		if s.vsRSA {
			verdict := func(v float64) string {
				switch {
				case void != "":
					return void
				case v < 0.90:
					return "FAIL"
				}
				return "PASS"
			}
			med, cmed := median(rsaFracs), median(rsaCPUFracs)
			notes = append(notes, fmt.Sprintf("%s (%s), against the raw RSA-2048 signing rate measured next to each run "+
				"(BenchmarkRawRSA2048: rsa.SignPKCS1v15 SHA-1, the same key, all cores; %s signatures/s):\n\n"+
				"- throughput: %.0f req/s, **%.3f** of the raw rate (median of rounds; %.3f–%.3f). Target ≥ 0.90: %s.\n"+
				"- CPU time: %.0f µs per request against %.0f µs per raw signature, **%.3f** (median of rounds; %.3f–%.3f): "+
				"the throughput ratio on CPUs that nothing else uses. Target ≥ 0.90: %s.",
				s.name, s.what, joinRates(rsaRates),
				meanRPS(presign), med, slices.Min(rsaFracs), slices.Max(rsaFracs), verdict(med),
				micros(pooledCost(presign)), micros(meanDuration(sigCPUs)), cmed,
				slices.Min(rsaCPUFracs), slices.Max(rsaCPUFracs), verdict(cmed)))
			continue
		}
		cost[s.name] = pooledCost(presign)
		if s.maxRatio > 0 {
			browseRows = append(browseRows, browseRow(s, static, presign, void))
			continue
		}
		med, lo, hi := median(ratios), slices.Min(ratios), slices.Max(ratios)
		verdict := "—"
		target := "—"
		if s.target > 0 {
			target = fmt.Sprintf("≥ %.2f", s.target)
			verdict = "PASS"
			if med < s.target {
				verdict = "FAIL"
			}
		}
		if void != "" {
			verdict = void
		}
		rows = append(rows, fmt.Sprintf("| %s: %s | %.2f | %.2f | **%.3f** (%.3f–%.3f) | %s | %.0f | %.0f | %s | %s |\n",
			s.name, s.what, micros(pooledCost(static)), micros(pooledCost(presign)), med, lo, hi, target, meanRPS(static), meanRPS(presign),
			remoteCalls(s, presign), verdict))
	}
	if len(rows) > 0 {
		fmt.Fprintf(b, "| scenario | static µs CPU/req | presign µs CPU/req | ratio static/presign (median of rounds; min–max) | target | static req/s | presign req/s | kms:Sign calls (per request) | verdict |\n")
		fmt.Fprintf(b, "|---|---|---|---|---|---|---|---|---|\n")
		b.WriteString(strings.Join(rows, ""))
	}
	if len(browseRows) > 0 {
		if len(rows) > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(b, "Listings of %d entries, against Caddy's `file_server browse` on a local folder of %d files in the same process and mode (Accept: application/json, or text/html); wrk with %d connections:\n\n", listEntries, listEntries, min(c.conns, listConns))
		fmt.Fprintf(b, "| scenario | file_server µs CPU/req | presign µs CPU/req | ratio presign/file_server (median of rounds; min–max) | target | file_server req/s | presign req/s | verdict |\n")
		fmt.Fprintf(b, "|---|---|---|---|---|---|---|---|\n")
		b.WriteString(strings.Join(browseRows, ""))
	}
	if first, last := cost["rules-1-of-1000"], cost["rules-1000-of-1000"]; first > 0 && last > 0 {
		f := float64(last) / float64(first)
		verdict := "PASS"
		if f > 1.1 {
			verdict = "FAIL"
		}
		notes = append(notes, fmt.Sprintf("Rule lookup: rule 1000 of 1000 costs %.2f µs CPU per request, rule 1 of 1000 %.2f µs: "+
			"**%.3f** times as much. Target ≤ 1.10: %s.", micros(last), micros(first), f, verdict))
	}
	for _, n := range notes {
		fmt.Fprintf(b, "\n%s\n", n)
	}
	return nil
}

var (
	sigsLine   = regexp.MustCompile(`BenchmarkRawRSA2048\S*\s.*?([0-9.]+) sigs/s`)
	sigCPULine = regexp.MustCompile(`BenchmarkRawRSA2048\S*\s.*?([0-9.]+) cpu-us/sig`)
)

// rawRSA runs BenchmarkRawRSA2048 (the test binary of loadbench) and returns
// its signatures per second on all cores and its CPU time per signature.
func (c *config) rawRSA() (rate float64, cpu time.Duration, err error) {
	if c.rsaBench == "" {
		return 0, 0, errors.New("cf-unique needs -rsa-bench (go test -c ./loadbench in systest)")
	}
	cmd := exec.Command(c.rsaBench, "-test.run", "^$", "-test.bench", "RawRSA2048$", "-test.benchtime", "3s")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %v\n%s", c.rsaBench, err, out)
	}
	m, mc := sigsLine.FindSubmatch(out), sigCPULine.FindSubmatch(out)
	if m == nil || mc == nil {
		return 0, 0, fmt.Errorf("no sigs/s or cpu-us/sig in the output of %s:\n%s", c.rsaBench, out)
	}
	rate, _ = strconv.ParseFloat(string(m[1]), 64)
	us, _ := strconv.ParseFloat(string(mc[1]), 64)
	return rate, time.Duration(us * float64(time.Microsecond)), nil
}

func joinRates(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatFloat(x, 'f', 0, 64)
	}
	return strings.Join(s, ", ")
}

// memory runs a fresh Caddy: idle RSS after a warm start, then RSS during
// and after mem-duration of load with a new key on every request, spread
// over the presign routes (every cache fills).
func (c *config) memory(b *strings.Builder) error {
	p, err := c.startCaddy()
	if err != nil {
		return err
	}
	defer p.stop()
	for _, r := range routes {
		if _, ok := p.ports[r.prefix]; r.browse || !ok {
			continue // its store may not run; the load below lists nothing
		}
		if _, err := c.wrk(p, r.prefix, "unique", time.Second); err != nil {
			return fmt.Errorf("warm-up %s: %v", r.prefix, err)
		}
	}
	time.Sleep(3 * time.Second)
	idle, err := harness.VmRSS(p.Pid())
	if err != nil {
		return err
	}

	samples := make(chan int64, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		var max int64
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				samples <- max
				return
			case <-tick.C:
				if v, err := harness.VmRSS(p.Pid()); err == nil && v > max {
					max = v
				}
			}
		}
	}()
	phases := []struct {
		route string
		share float64
	}{{"/dl/", 0.5}, {"/cf/", 0.25}, {"/cfu/", 0.25}}
	var requests, bad int64
	for _, ph := range phases {
		r, err := c.wrk(p, ph.route, "unique", time.Duration(float64(c.memDuration)*ph.share))
		if err != nil {
			cancel()
			return err
		}
		requests += r.requests
		bad += r.bad + r.errors
	}
	cancel()
	during := <-samples
	time.Sleep(5 * time.Second)
	after, err := harness.VmRSS(p.Pid())
	if err != nil {
		return err
	}
	const mb = 1 << 20
	verdict := "PASS"
	if during-idle > 20*mb || after-idle > 20*mb {
		verdict = "FAIL"
	}
	if bad > 0 {
		verdict = fmt.Sprintf("VOID: %d non-3xx answers or socket errors", bad)
	}
	fmt.Fprintf(b, "\nMemory (a fresh Caddy, same config): VmRSS idle after a warm start %.1f MiB; "+
		"highest during %s of load with a new key on every request (half of it on /dl/, then a quarter each on /cf/ and /cfu/; %d requests) %.1f MiB (**+%.1f MiB**); "+
		"5 s after the load %.1f MiB (+%.1f MiB). Target: within 20 MB of idle: %s.\n",
		float64(idle)/mb, c.memDuration, requests, float64(during)/mb, float64(during-idle)/mb,
		float64(after)/mb, float64(after-idle)/mb, verdict)
	return nil
}

// browseRow is the table row of a browse scenario: presign's CPU per
// request against file_server browse's, per round.
func browseRow(s scenario, base, presign []run, void string) string {
	var ratios []float64
	for i := range presign {
		if c := base[i].costPerReq(); c > 0 {
			ratios = append(ratios, float64(presign[i].costPerReq())/float64(c))
		}
	}
	if len(ratios) == 0 {
		ratios = []float64{0}
	}
	med := median(ratios)
	verdict := "PASS"
	if med > s.maxRatio {
		verdict = "FAIL"
	}
	if void != "" {
		verdict = void
	}
	return fmt.Sprintf("| %s: %s | %.0f | %.0f | **%.2f** (%.2f–%.2f) | ≤ %.1f | %.0f | %.0f | %s |\n",
		s.name, s.what, micros(pooledCost(base)), micros(pooledCost(presign)), med, slices.Min(ratios), slices.Max(ratios),
		s.maxRatio, meanRPS(base), meanRPS(presign), verdict)
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "?"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "Linux"
	}
	return "Linux " + strings.TrimSpace(string(b))
}
