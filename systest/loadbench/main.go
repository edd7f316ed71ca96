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
// the scenario. A second, fresh Caddy then serves MEM_DURATION of load while
// its VmRSS is sampled, against its idle RSS after a warm start.
//
// Everything runs on 127.0.0.1; every loop is bounded.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

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
}

var scenarios = []scenario{
	{"s3-unique", "/dl/", "unique", 0.90, "S3 GET, a new key on every request (every request signed)", false},
	{"s3-hot", "/dl/", "hot", 0.95, "S3 GET, one hot key (URL cache: one signature per second)", false},
	{"cf-stable-hot", "/cf/", "hot", 0.90, "CloudFront, stable 1m, one hot key", false},
	{"cf-unique", "/cfu/", "unique", 0.90, "CloudFront without stable, a new key on every request (an RSA-2048 signature each)", true},
	{"azure-unique", "/az/", "unique", 0.85, "Azure GET, a new key on every request (every request signed)", false},
	{"gcs-stable-hot", "/gcs/", "hot", 0.90, "native GCS, stable 1m, one hot key", false},
	{"s3-check-exists-hot", "/ce/", "hot", 0.85, "S3 GET with check_exists (10s), one hot key (one HeadObject per window)", false},
	{"rules-1-of-1", "/u1/", "hot", 0, "S3 GET, one hot key, the only rule of its handler", false},
	{"rules-1-of-1000", "/t1/", "hot", 0, "S3 GET, one hot key, rule 1 of 1000", false},
	{"rules-100-of-1000", "/t100/", "hot", 0, "S3 GET, one hot key, rule 100 of 1000", false},
	{"rules-1000-of-1000", "/t1000/", "hot", 0, "S3 GET, one hot key, rule 1000 of 1000", false},
	// not run unless named: calibration
	{"static-aa", "/static2/", "hot", 0, "A/A: the static redir against a copy of itself on another port (the method's noise)", false},
}

// defaultScenarios run when none are named.
var defaultScenarios = []string{"s3-unique", "s3-hot", "cf-stable-hot", "cf-unique", "azure-unique", "gcs-stable-hot", "s3-check-exists-hot",
	"rules-1-of-1", "rules-1-of-1000", "rules-100-of-1000", "rules-1000-of-1000"}

type config struct {
	caddy, repo, out       string
	duration, memDuration  time.Duration
	rounds, conns, threads int
	only                   []string
	rsaBench               string   // the test binary of loadbench, for BenchmarkRawRSA2048
	storeEnv               []string // BENCH_S3_*: the versitygw of the check_exists route
	maxLoad                float64
	waitLoad               time.Duration
	clkTck                 float64
	warmup                 time.Duration
}

// run is one wrk run against one route.
type run struct {
	route    string // static or presign
	requests int64
	non3xx   int64
	errors   int64
	rps      float64
	cpu      time.Duration // Caddy's CPU time over the run
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
	flag.StringVar(&c.repo, "repo", ".", "the repository root (bench/Caddyfile, bench/paths.lua, signers/testdata)")
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
		return os.WriteFile(c.out, []byte(b.String()), 0o644)
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
	// connections, heap growth) is not what is measured
	for _, r := range routes {
		if _, err := c.wrk(p, r.prefix, "unique", c.warmup); err != nil {
			return fmt.Errorf("warm-up %s: %v", r.prefix, err)
		}
	}

	fmt.Fprintf(b, "| scenario | static µs CPU/req | presign µs CPU/req | ratio static/presign (median of rounds; min–max) | target | static req/s | presign req/s | verdict |\n")
	fmt.Fprintf(b, "|---|---|---|---|---|---|---|---|\n")
	var notes []string
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
				prefix := "/static/"
				if route == "presign" {
					prefix = s.prefix
				}
				r, err := c.wrk(p, prefix, s.mode, c.duration)
				if err != nil {
					return fmt.Errorf("%s %s: %v", s.name, route, err)
				}
				r.route = route
				fmt.Fprintf(os.Stderr, "%-14s round %d %-7s %8d req %9.0f req/s %7.2f µs CPU/req non3xx=%d errors=%d load=%.2f\n",
					s.name, round+1, route, r.requests, r.rps, micros(r.costPerReq()), r.non3xx, r.errors, r.load1)
				if r.non3xx > 0 || r.errors > 0 {
					void = fmt.Sprintf("VOID: %s round %d: %d non-3xx answers, %d socket errors", route, round+1, r.non3xx, r.errors)
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
		fmt.Fprintf(b, "| %s: %s | %.2f | %.2f | **%.3f** (%.3f–%.3f) | %s | %.0f | %.0f | %s |\n",
			s.name, s.what, micros(pooledCost(static)), micros(pooledCost(presign)), med, lo, hi, target, meanRPS(static), meanRPS(presign), verdict)
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
		bad += r.non3xx + r.errors
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

// caddyProc is a running Caddy.
type caddyProc struct {
	*harness.Process
	ports map[string]int // by route prefix: /static/, /dl/, /cf/, /cfu/
	dir   string         // HOME, XDG directories and log
}

// routes are the route prefixes of bench/Caddyfile and their port
// variables; routes of one server share its variable.
var routes = []struct{ prefix, env string }{
	{"/static/", "BENCH_PORT_STATIC"}, {"/static2/", "BENCH_PORT_STATIC2"},
	{"/dl/", "BENCH_PORT_S3"}, {"/cf/", "BENCH_PORT_CF"}, {"/cfu/", "BENCH_PORT_CFU"},
	{"/az/", "BENCH_PORT_AZ"}, {"/gcs/", "BENCH_PORT_GCS"}, {"/ce/", "BENCH_PORT_CE"},
	{"/t1/", "BENCH_PORT_RULES"}, {"/t100/", "BENCH_PORT_RULES"}, {fmt.Sprintf("/t%d/", manyRules), "BENCH_PORT_RULES"},
	{"/u1/", "BENCH_PORT_RULE1"},
}

// manyRules is the number of rules of the rule-lookup server.
const manyRules = 1000

// benchStore is the versitygw of the check_exists route.
type benchStore struct {
	*harness.S3
	dir string
}

func (s *benchStore) stop() {
	s.Stop()
	os.RemoveAll(s.dir)
}

// startStore starts versitygw with the bucket bench-exists holding the
// objects the check_exists route is asked for (hot/object.bin, and ready
// for the start-up check), and sets the route's BENCH_S3_* variables.
func (c *config) startStore() (*benchStore, error) {
	dir, err := os.MkdirTemp("", "loadbench-s3-")
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s3srv, err := harness.LaunchS3(filepath.Join(harness.ToolsBin(), "versitygw"), data, dir, "AKBENCHEXISTS", "bench-exists-secret")
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%v (install it with ./scripts/tools.sh)", err)
	}
	st := &benchStore{S3: s3srv, dir: dir}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s3srv.Client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bench-exists")}); err != nil {
		st.stop()
		return nil, fmt.Errorf("versitygw: create bucket: %v", err)
	}
	for _, key := range []string{"hot/object.bin", "ready"} {
		if _, err := s3srv.Client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bench-exists"), Key: aws.String(key),
			Body: strings.NewReader("bench")}); err != nil {
			st.stop()
			return nil, fmt.Errorf("versitygw: put %s: %v", key, err)
		}
	}
	c.storeEnv = []string{"BENCH_S3_ENDPOINT=" + s3srv.Endpoint, "BENCH_S3_ACCESS=" + s3srv.AccessKey, "BENCH_S3_SECRET=" + s3srv.SecretKey}
	return st, nil
}

// writeGCSKey copies the service account key of Google's conformance
// tests to dst as valid JSON: the published file lacks the comma after its
// "comment" line.
func writeGCSKey(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	b = bytes.Replace(b, []byte("public.\"\n"), []byte("public.\",\n"), 1)
	if !json.Valid(b) {
		return fmt.Errorf("%s is not JSON even with the comma after its comment", src)
	}
	return os.WriteFile(dst, b, 0o600)
}

// writeManyRules writes the Caddyfile that bench/Caddyfile imports as
// {$BENCH_MANYRULES}: the rule-lookup servers, each with one S3 profile
// (static keys: signing is local). BENCH_PORT_RULES has manyRules rules
// /t<i>/*, each with its own key prefix, so that requests under /t1/,
// /t100/ and /t1000/ measure rule 1, 100 and 1000 of 1000;
// BENCH_PORT_RULE1 has the one rule /u1/*, rule 1 of 1.
func writeManyRules(path string) error {
	var b strings.Builder
	server := func(port string, rules []string) {
		fmt.Fprintf(&b, "\nhttp://127.0.0.1:{$%s} {\n\tpresign {\n", port)
		b.WriteString("\t\tprofile s3 s3 {\n\t\t\tbucket bench-bucket\n\t\t\tregion us-east-1\n" +
			"\t\t\taccess_key_id AKIAIOSFODNN7EXAMPLE\n\t\t\tsecret_access_key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n\t\t}\n")
		for _, r := range rules {
			fmt.Fprintf(&b, "\t\trule /%s/* {\n\t\t\tprofile s3\n\t\t\tstrip_prefix /%s\n\t\t\tkey %s/{presign.path}\n\t\t}\n", r, r, r)
		}
		b.WriteString("\t}\n}\n")
	}
	many := make([]string, manyRules)
	for i := range many {
		many[i] = fmt.Sprintf("t%d", i+1)
	}
	server("BENCH_PORT_RULES", many)
	server("BENCH_PORT_RULE1", []string{"u1"})
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func (c *config) startCaddy() (*caddyProc, error) {
	ports := map[string]int{}
	byEnv := map[string]int{}
	env := append(os.Environ(), c.storeEnv...)
	for _, r := range routes {
		port, ok := byEnv[r.env]
		if !ok {
			var err error
			if port, err = harness.FreePort(); err != nil {
				return nil, err
			}
			byEnv[r.env] = port
			env = append(env, r.env+"="+strconv.Itoa(port))
		}
		ports[r.prefix] = port
	}
	dir, err := os.MkdirTemp("", "loadbench-caddy-")
	if err != nil {
		return nil, err
	}
	manyRulesFile := filepath.Join(dir, "manyrules.Caddyfile")
	if err := writeManyRules(manyRulesFile); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	env = append(env, "BENCH_MANYRULES="+manyRulesFile)
	repo, _ := filepath.Abs(c.repo)
	gcsKey := filepath.Join(dir, "gcs-service-account.json")
	if err := writeGCSKey(filepath.Join(repo, "signers", "testdata", "gcs", "service-account"), gcsKey); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	client := &http.Client{Timeout: 2 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var wrong error // a route that answers, but not with its redirect
	proc, err := harness.StartProcess(harness.ProcessSpec{
		Path: c.caddy,
		Args: []string{"run", "--adapter", "caddyfile", "--config", filepath.Join(repo, "bench", "Caddyfile")},
		Env: append(env, // Caddy's data dir: nothing of the user's
			"BENCH_CF_KEY="+filepath.Join(repo, "signers", "testdata", "cloudfront-rsa-pkcs1.pem"),
			"BENCH_GCS_KEY="+gcsKey,
			"HOME="+dir, "XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config")),
		LogPath: filepath.Join(dir, "caddy.log"),
		Timeout: 30 * time.Second,
		Ready: func() bool {
			for prefix, port := range ports {
				resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d%sready", port, prefix))
				if err != nil {
					return false
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusFound {
					wrong = fmt.Errorf("caddy answers %sready with %d, not 302", prefix, resp.StatusCode)
				}
			}
			return true
		},
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	p := &caddyProc{Process: proc, ports: ports, dir: dir}
	if wrong != nil {
		p.stop()
		return nil, wrong
	}
	return p, nil
}

func (p *caddyProc) stop() {
	p.Stop(10 * time.Second)
	os.RemoveAll(p.dir)
}

var benchLine = regexp.MustCompile(`BENCH requests=(\d+) non3xx=(\d+) errors=(\d+)`)
var rpsLine = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)

// wrk runs wrk against one route of p for d and returns the run with
// Caddy's CPU time over it.
func (c *config) wrk(p *caddyProc, prefix, mode string, d time.Duration) (run, error) {
	r := run{load1: loadavg1()}
	url := fmt.Sprintf("http://127.0.0.1:%d/", p.ports[prefix])
	cmd := exec.Command("wrk", "-t", strconv.Itoa(c.threads), "-c", strconv.Itoa(c.conns),
		"-d", fmt.Sprintf("%ds", max(1, int(d.Round(time.Second)/time.Second))), "--timeout", "5s",
		"-s", filepath.Join(c.repo, "bench", "paths.lua"), url, "--", prefix, mode)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	before, err := cpuTime(p.Pid(), c.clkTck)
	if err != nil {
		return r, err
	}
	if err := cmd.Start(); err != nil {
		return r, err
	}
	timer := time.AfterFunc(d+30*time.Second, func() { cmd.Process.Kill() })
	err = cmd.Wait()
	timer.Stop()
	after, cerr := cpuTime(p.Pid(), c.clkTck)
	if err != nil {
		return r, fmt.Errorf("wrk: %v\n%s", err, out.String())
	}
	if cerr != nil {
		return r, cerr
	}
	m := benchLine.FindSubmatch(out.Bytes())
	if m == nil {
		return r, fmt.Errorf("no BENCH line in wrk's output:\n%s", out.String())
	}
	r.requests, _ = strconv.ParseInt(string(m[1]), 10, 64)
	r.non3xx, _ = strconv.ParseInt(string(m[2]), 10, 64)
	r.errors, _ = strconv.ParseInt(string(m[3]), 10, 64)
	if m := rpsLine.FindSubmatch(out.Bytes()); m != nil {
		r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	}
	r.cpu = after - before
	return r, nil
}

// cpuTime is the CPU time (user + system) process pid has used, all its
// threads, from /proc/PID/stat.
func cpuTime(pid int, clkTck float64) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// the command name is in parentheses and may hold spaces: fields
	// start after the last ')'; utime and stime are fields 14 and 15
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc/PID/stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("malformed /proc/PID/stat")
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("malformed /proc/PID/stat")
	}
	return time.Duration((ut + st) / clkTck * float64(time.Second)), nil
}

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat times.
func clockTicks() float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if v, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64); err == nil && v > 0 {
			return v
		}
	}
	return 100
}

func loadavgString() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ") + " (1, 5, 15 min)"
}

func loadavg1() float64 {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// waitForLoad waits, at most for d, until the 1-minute load average is
// under max.
func waitForLoad(max float64, d time.Duration) {
	deadline := time.Now().Add(d)
	for l := loadavg1(); l >= max; l = loadavg1() {
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "loadbench: load average still %.2f after %s; measuring anyway\n", l, d)
			return
		}
		fmt.Fprintf(os.Stderr, "loadbench: load average %.2f ≥ %.2f; waiting\n", l, max)
		time.Sleep(10 * time.Second)
	}
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

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// pooledCost is the cost per request over all runs together.
func pooledCost(runs []run) time.Duration {
	var cpu time.Duration
	var n int64
	for _, r := range runs {
		cpu += r.cpu
		n += r.requests
	}
	if n == 0 {
		return 0
	}
	return cpu / time.Duration(n)
}

func meanRPS(runs []run) float64 {
	var s float64
	for _, r := range runs {
		s += r.rps
	}
	return s / float64(max(1, len(runs)))
}

func meanDuration(v []time.Duration) time.Duration {
	var s time.Duration
	for _, d := range v {
		s += d
	}
	return s / time.Duration(max(1, len(v)))
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
