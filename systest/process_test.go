package systest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-presign/presign/systest/harness"
)

// Tests of real Caddy processes built from ./cmd/caddy: metrics in Caddy's
// registry, a reload under load, a soak, and a fleet of two. All on
// 127.0.0.1.

// procSite is a site of the process tests: presign with an S3 profile on
// versitygw and the given rules, then respond 418 for what no rule takes.
func procSite(port int, s *harness.S3, rules string) string {
	return site(port, presignBlock(s.Profile("vault", "proc"), rules))
}

const procFilesRule = `rule /files/* {
			profile vault
			strip_prefix /files
			key public/{presign.path}
			%s
		}`

// startProcBucket starts versitygw with the bucket "proc" and the objects
// public/hello.txt and public/k0 ... public/k7.
func startProcBucket(t *testing.T) *harness.S3 {
	s := harness.StartS3(t)
	s.CreateBucket(t, "proc")
	s.Put(t, "proc", "public/hello.txt", []byte("hello"), "text/plain")
	for i := range 8 {
		s.Put(t, "proc", "public/k"+strconv.Itoa(i), []byte("object k"+strconv.Itoa(i)), "text/plain")
	}
	return s
}

// TestProcessMetrics: with Caddy's metrics on, the admin endpoint's
// /metrics serves caddy_presign_answers_total by profile, rule, method and
// outcome, and caddy_presign_sign_duration_seconds, counting exactly the
// requests made, next to Caddy's own HTTP metrics.
func TestProcessMetrics(t *testing.T) {
	s := startProcBucket(t)
	port := harness.Port(t)
	p := harness.StartCaddy(t, procSite(port, s, fmt.Sprintf(procFilesRule, "")), []int{port}, "metrics")
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	client := harness.LoadClient(1)
	defer client.CloseIdleConnections()
	for _, r := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/files/hello.txt", 302},
		{"GET", "/files/k1", 302},
		{"GET", "/files/k2", 302},
		{"HEAD", "/files/hello.txt", 302},
		{"GET", "/files/a//b", 400},
		{"GET", "/files/a/%2e%2e/", 400},
		{"DELETE", "/files/hello.txt", 405},
		{"BREW", "/files/hello.txt", 405},
		{"GET", "/elsewhere", 418},
	} {
		code, hdr, _, err := harness.Do(t.Context(), client, r.method, base+r.path)
		if err != nil || code != r.want {
			t.Fatalf("%s %s: %d %v, want %d", r.method, r.path, code, err, r.want)
		}
		if r.path == "/files/hello.txt" && r.method == "GET" {
			if code, _, body := harness.Fetch(t, "GET", hdr.Get("Location"), nil); code != 200 || string(body) != "hello" {
				t.Fatalf("following the redirect: %d %q", code, body)
			}
		}
	}
	text := p.Metrics()
	const rule = `profile="vault",rule="/files/*"`
	for series, want := range map[string]float64{
		`caddy_presign_answers_total{method="GET",outcome="signed",` + rule + `}`:                3,
		`caddy_presign_answers_total{method="HEAD",outcome="signed",` + rule + `}`:               1,
		`caddy_presign_answers_total{method="GET",outcome="bad_key",` + rule + `}`:               2,
		`caddy_presign_answers_total{method="DELETE",outcome="method_not_allowed",` + rule + `}`: 1,
		`caddy_presign_answers_total{method="other",outcome="method_not_allowed",` + rule + `}`:  1,
		`caddy_presign_sign_duration_seconds_count{profile="vault"}`:                             4,
	} {
		got, ok := harness.MetricValue(text, series)
		if !ok || got != want {
			t.Errorf("%s = %v (present: %v), want %v", series, got, ok, want)
		}
	}
	// a series exists once it counted something
	if v, ok := harness.MetricValue(text, `caddy_presign_answers_total{method="GET",outcome="unavailable",`+rule+`}`); ok {
		t.Errorf("a series of an outcome that never happened: unavailable = %v", v)
	}
	if sum, ok := harness.MetricValue(text, `caddy_presign_sign_duration_seconds_sum{profile="vault"}`); !ok || sum <= 0 || sum > 1 {
		t.Errorf("caddy_presign_sign_duration_seconds_sum = %v (present: %v), want a small positive time", sum, ok)
	}
	if !strings.Contains(text, "caddy_http_requests_total") && !strings.Contains(text, "caddy_http_request_duration_seconds") {
		t.Errorf("Caddy's own HTTP metrics are missing: is the metrics option on?")
	}
	if t.Failed() {
		var lines []string
		for _, l := range strings.Split(text, "\n") {
			if strings.HasPrefix(l, "caddy_presign") {
				lines = append(lines, l)
			}
		}
		t.Logf("scraped:\n%s", strings.Join(lines, "\n"))
	}
}

// TestProcessReloadUnderLoad: 4 workers request URLs over keep-alive
// connections while `caddy reload` twice changes the config (expires 15m,
// then 10m with a new rule, then 5m). No request is lost: every answer is a
// 302, a second after a reload returned every answer is the new config's,
// and the new rule answers. One connection error is Caddy's own, not the
// module's, and is asked again once: a connection reset while a reload
// swaps its listeners (Caddy binds the new one with SO_REUSEPORT and
// closes the old, and Linux resets the connections still queued on the
// old socket). Outside a reload, or twice for one request, it fails.
func TestProcessReloadUnderLoad(t *testing.T) {
	const (
		workers  = 4
		duration = 6 * time.Second
	)
	s := startProcBucket(t)
	port := harness.Port(t)
	// the configs after a reload: both rules with another lifetime
	next := func(expires string) string {
		return procSite(port, s, fmt.Sprintf(procFilesRule, "expires "+expires)+`
		rule /new/* {
			profile vault
			strip_prefix /new
			key fresh/{presign.path}
			expires `+expires+`
		}`)
	}
	v1, v2, v3 := procSite(port, s, fmt.Sprintf(procFilesRule, "")), next("10m"), next("5m")
	p := harness.StartCaddy(t, v1, []int{port})
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	client := harness.LoadClient(workers)
	defer client.CloseIdleConnections()

	var (
		mu        sync.Mutex
		seen      = map[string]int{} // X-Amz-Expires -> answers
		reloading [2]time.Time       // when each reload was asked
		reloaded  [2]time.Time       // when each reload returned
		reset     int                // requests asked again after a reset during a reload
	)
	// duringReload tells whether a connection reset at now met a listener
	// swap: between a reload's asking and a second after it returned
	duringReload := func(now time.Time) bool {
		mu.Lock()
		defer mu.Unlock()
		for i := range reloading {
			if !reloading[i].IsZero() && !now.Before(reloading[i]) && (reloaded[i].IsZero() || now.Before(reloaded[i].Add(time.Second))) {
				return true
			}
		}
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	wait := harness.Load(ctx, workers, func(w, i int) error {
		key := "k" + strconv.Itoa((w+i)%8)
		started := time.Now()
		code, hdr, _, err := harness.Do(context.Background(), client, "GET", base+"/files/"+key)
		if errors.Is(err, syscall.ECONNRESET) && duringReload(time.Now()) {
			mu.Lock()
			reset++
			mu.Unlock()
			code, hdr, _, err = harness.Do(context.Background(), client, "GET", base+"/files/"+key)
		}
		if err != nil || code != http.StatusFound {
			return fmt.Errorf("worker %d request %d: %d %v", w, i, code, err)
		}
		loc := hdr.Get("Location")
		if !strings.HasPrefix(loc, s.Endpoint+"/proc/public/"+key+"?") {
			return fmt.Errorf("Location %q", loc)
		}
		u, _ := url.Parse(loc)
		exp, _ := strconv.Atoi(u.Query().Get("X-Amz-Expires"))
		mu.Lock()
		seen[strconv.Itoa(exp)]++
		r := reloaded
		mu.Unlock()
		// Caddy serves with both configs for the moment of the switch; a
		// second after a reload returned, only the new
		after := func(t time.Time) bool { return !t.IsZero() && started.After(t.Add(time.Second)) }
		if after(r[0]) && exp == 900 || after(r[1]) && exp != 300 {
			return fmt.Errorf("worker %d request %d, started %s, after the reloads at %s and %s: expires %d, from an old config",
				w, i, started.Format(time.StampMilli), r[0].Format(time.StampMilli), r[1].Format(time.StampMilli), exp)
		}
		if i%100 == 0 {
			if code, _, body, err := harness.Do(context.Background(), client, "GET", loc); err != nil || code != 200 || string(body) != "object "+key {
				return fmt.Errorf("fetching %s: %d %q %v", loc, code, body, err)
			}
		}
		return nil
	})
	for i, cfg := range []string{v2, v3} {
		time.Sleep(duration / 4)
		mu.Lock()
		reloading[i] = time.Now()
		mu.Unlock()
		p.Reload(cfg)
		mu.Lock()
		reloaded[i] = time.Now()
		mu.Unlock()
	}
	total, failures := wait()

	t.Logf("%d requests over 2 reloads, %d asked again after a reset as a reload swapped listeners; answers by X-Amz-Expires: %v", total, reset, seen)
	for _, f := range failures {
		t.Error(f)
	}
	if seen["900"] == 0 || seen["600"] == 0 || seen["300"] == 0 || len(seen) != 3 {
		t.Errorf("lifetimes seen %v: want answers of all three configs and nothing else", seen)
	}
	code, hdr, _, err := harness.Do(t.Context(), client, "GET", base+"/new/x.txt")
	if loc := hdr.Get("Location"); err != nil || code != 302 || !strings.HasPrefix(loc, s.Endpoint+"/proc/fresh/x.txt?") || !strings.Contains(loc, "X-Amz-Expires=300&") {
		t.Errorf("the new rule after the reload: %d %q %v", code, loc, err)
	}
}

// soakDuration is the steady phase of TestProcessSoak: $SOAK (a Go
// duration, e.g. SOAK=3m), else 60 s in CI and 20 s elsewhere.
func soakDuration(t *testing.T) time.Duration {
	if v := os.Getenv("SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("SOAK=%q: not a duration such as 3m", v)
		}
		return d
	}
	if harness.InCI() {
		return time.Minute
	}
	return 20 * time.Second
}

// TestProcessSoak: 32 workers keep a Caddy process busy for the soak
// duration with a mix of downloads (8 hot keys and a stream of unique ones),
// HEADs and bad keys. Every answer is the expected one (302, or 400 for bad
// keys), a sample of the URLs is fetched from versitygw, and the process
// does not grow: its goroutines return to their idle count once the load
// ends, and its resident memory at the end of the steady phase is within
// rssSlack of what it was at the start of it (after a warm-up).
//
// The bound: once warm, Caddy's RSS under a constant load is flat, give or
// take what the garbage collector has not returned yet (its heap may reach
// twice the live heap with GOGC=100: a few MiB here). 32 MiB over the
// start lets that be, and is crossed by a leak of some 50 bytes per request
// over a one-minute run (about 600k requests), or by per-key state that is
// not bounded (every unique key below would leave some).
func TestProcessSoak(t *testing.T) {
	const (
		workers = 32
		warmup  = 3 * time.Second
		// rssSlack bounds the growth of the RSS over the steady phase.
		rssSlack = 32 << 10 // KiB
	)
	steady := soakDuration(t)
	s := startProcBucket(t)
	port := harness.Port(t)
	p := harness.StartCaddy(t, procSite(port, s, fmt.Sprintf(procFilesRule, "")), []int{port}, "metrics")
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	client := harness.LoadClient(workers)
	defer client.CloseIdleConnections()

	if code, _, _, err := harness.Do(t.Context(), client, "GET", base+"/files/k0"); err != nil || code != 302 {
		t.Fatalf("first request: %d %v", code, err)
	}
	client.CloseIdleConnections()
	time.Sleep(500 * time.Millisecond)
	idleG := int(p.Metric("go_goroutines"))

	var (
		fetched    atomic.Int64
		inSteady   atomic.Int64
		steadyFrom atomic.Bool
	)
	rngs := make([]*rand.Rand, workers)
	for w := range rngs {
		rngs[w] = rand.New(rand.NewPCG(uint64(w), 42))
	}
	ctx, cancel := context.WithTimeout(context.Background(), warmup+steady)
	defer cancel()
	wait := harness.Load(ctx, workers, func(w, i int) error {
		method, path, want, key := "GET", "", 302, ""
		switch n := rngs[w].IntN(100); {
		case n < 5:
			path, want = "/files/a//b"+strconv.Itoa(i), 400
		case n < 15:
			method, key = "HEAD", "k"+strconv.Itoa(n%8)
		case n < 55:
			key = "k" + strconv.Itoa(n%8)
		default:
			key = fmt.Sprintf("unique/%d/%d", w, i)
		}
		if path == "" {
			path = "/files/" + key
		}
		code, hdr, _, err := harness.Do(context.Background(), client, method, base+path)
		if steadyFrom.Load() {
			inSteady.Add(1)
		}
		if err != nil || code != want {
			return fmt.Errorf("%s %s: %d %v, want %d", method, path, code, err, want)
		}
		if want != 302 {
			return nil
		}
		loc := hdr.Get("Location")
		if !strings.HasPrefix(loc, s.Endpoint+"/proc/public/"+key+"?") {
			return fmt.Errorf("%s %s: Location %q", method, path, loc)
		}
		if i%500 == 0 && strings.HasPrefix(key, "k") {
			fetched.Add(1)
			code, _, body, err := harness.Do(context.Background(), client, method, loc)
			if err != nil || code != 200 || (method == "GET" && string(body) != "object "+key) {
				return fmt.Errorf("fetching %s %s: %d %q %v", method, loc, code, body, err)
			}
		}
		return nil
	})

	time.Sleep(warmup)
	steadyFrom.Store(true)
	rss0, start := p.RSS()>>10, time.Now()
	heap0 := p.Metric("go_memstats_heap_inuse_bytes")
	busyG := int(p.Metric("go_goroutines"))
	var rssMax int64
	for ctx.Err() == nil {
		rssMax = max(rssMax, p.RSS()>>10)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	rss1 := p.RSS() >> 10
	heap1 := p.Metric("go_memstats_heap_inuse_bytes")
	elapsed := time.Since(start)
	total, failures := wait()
	client.CloseIdleConnections()

	// the process's goroutines return to their idle count
	var g int
	deadline := time.Now().Add(10 * time.Second)
	for g = int(p.Metric("go_goroutines")); g > idleG+3 && time.Now().Before(deadline); g = int(p.Metric("go_goroutines")) {
		time.Sleep(200 * time.Millisecond)
	}

	rps := float64(inSteady.Load()) / elapsed.Seconds()
	t.Logf("steady %s: %d requests (%.0f/s, %d in all), %d URLs fetched; RSS %d KiB at the start, %d KiB at the end (max %d); heap in use %.1f MiB -> %.1f MiB; goroutines: %d idle before, %d under load, %d idle after",
		elapsed.Round(time.Second), inSteady.Load(), rps, total, fetched.Load(), rss0, rss1, rssMax,
		heap0/(1<<20), heap1/(1<<20), idleG, busyG, g)
	for _, f := range failures {
		t.Error(f)
	}
	if inSteady.Load() < 1000 || fetched.Load() < 10 {
		t.Errorf("only %d requests in the steady phase and %d fetches", inSteady.Load(), fetched.Load())
	}
	if rss1 > rss0+rssSlack {
		t.Errorf("RSS grew from %d KiB to %d KiB over the steady phase (bound: +%d KiB)", rss0, rss1, rssSlack)
	}
	if g > idleG+3 {
		t.Errorf("goroutines: %d idle before the load, %d ten seconds after it", idleG, g)
	}
}

// fleetPresign is the presign config of every instance of a fleet: S3 and
// CloudFront rules with stable.
func fleetPresign() string {
	return `presign {
		profile s3 s3 {
			bucket fleet-bucket
			region eu-central-1
			access_key_id AKIAIOSFODNN7EXAMPLE
			secret_access_key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
		}
		profile cf cloudfront {
			domain d111111abcdef8.cloudfront.net
			key_pair_id K2JCJMDEHXQW5F
			private_key_file ` + harness.RepoPath(cfKeyFile) + `
		}
		rule /s3/* {
			profile s3
			strip_prefix /s3
			expires 1h
			stable 10m
		}
		rule /cf/* {
			profile cf
			strip_prefix /cf
			expires 2h
			stable 10m
		}
	}`
}

// TestFleetStableURLs: two Caddy processes with the same config and
// `stable` answer the same key with the same URL, byte for byte, without
// sharing anything: S3 (SigV4 over the window's start) and CloudFront
// (RSA PKCS#1 v1.5 signatures are deterministic).
func TestFleetStableURLs(t *testing.T) {
	ports := [2]int{harness.Port(t), harness.Port(t)}
	for _, port := range ports {
		harness.StartCaddy(t, site(port, fleetPresign()), []int{port})
	}
	get := func(port int, path string) string {
		t.Helper()
		code, hdr, _ := harness.Fetch(t, "GET", fmt.Sprintf("http://127.0.0.1:%d%s", port, path), nil)
		if code != http.StatusFound {
			t.Fatalf("GET %s on :%d: %d, want 302", path, port, code)
		}
		if cc := hdr.Get("Cache-Control"); !strings.HasPrefix(cc, "private, max-age=") {
			t.Fatalf("GET %s: Cache-Control %q, want private, max-age=...", path, cc)
		}
		return hdr.Get("Location")
	}

	seen := map[string]string{}
	for _, path := range []string{"/s3/reports/q3.pdf", "/s3/images/caf%C3%A9.jpg", "/cf/videos/intro.mp4", "/cf/a%20b/c.zarr/.zattrs"} {
		// both answers must fall in the same 10-minute window: retry
		// (at most twice) when a window boundary passes in between
		for attempt := 0; ; attempt++ {
			w := time.Now().Unix() / 600
			ua := get(ports[0], path)
			time.Sleep(1100 * time.Millisecond) // another second: no per-second coincidence
			ub := get(ports[1], path)
			if time.Now().Unix()/600 != w {
				if attempt < 2 {
					continue
				}
				t.Fatal("window boundary on every attempt")
			}
			if ua != ub {
				t.Fatalf("GET %s: the two instances disagree:\n  a: %s\n  b: %s", path, ua, ub)
			}
			if other, dup := seen[ua]; dup {
				t.Fatalf("GET %s and %s: the same URL %s", path, other, ua)
			}
			seen[ua] = path
			u, err := url.Parse(ua)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Unix(w*600, 0).UTC()
			switch {
			case strings.HasPrefix(path, "/s3/"):
				if got := u.Query().Get("X-Amz-Date"); got != start.Format("20060102T150405Z") {
					t.Errorf("GET %s: X-Amz-Date %s, want the window's start %s", path, got, start.Format("20060102T150405Z"))
				}
			default:
				if got := u.Query().Get("Expires"); got != strconv.FormatInt(start.Add(2*time.Hour).Unix(), 10) {
					t.Errorf("GET %s: Expires %s, want the window's start + 2h (%d)", path, got, start.Add(2*time.Hour).Unix())
				}
			}
			t.Logf("GET %s: both %.90s…", path, ua)
			break
		}
	}
}
