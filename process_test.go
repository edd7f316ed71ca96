package presign

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-presign/presign/internal/testenv"
)

// Tests of a real Caddy process built from ./cmd/caddy: metrics in Caddy's
// registry, a reload under load, and a soak. All on 127.0.0.1.

// procSite is a site of the process tests: presign with an S3 profile on
// versitygw and the given rules, then respond 418 for what no rule takes.
func procSite(port int, s *testenv.S3, rules string) string {
	return fmt.Sprintf(`http://127.0.0.1:%d {
	presign {
		%s
		%s
	}
	respond "next" 418
}
`, port, s3Profile("vault", s, "proc"), rules)
}

const procFilesRule = `rule /files/* {
			profile vault
			strip_prefix /files
			key public/{presign.path}
			%s
		}`

// startProcBucket starts versitygw with the bucket "proc" and the objects
// public/hello.txt and public/k0 ... public/k7.
func startProcBucket(t *testing.T) *testenv.S3 {
	s := testenv.StartS3(t)
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
	port := loopbackPort(t)
	p := startCaddy(t, procSite(port, s, fmt.Sprintf(procFilesRule, "")), []int{port}, "metrics")
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	client := loadClient(1)
	defer client.CloseIdleConnections()
	for _, r := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/files/hello.txt", 302}, {"GET", "/files/k1", 302}, {"GET", "/files/k2", 302},
		{"HEAD", "/files/hello.txt", 302}, {"GET", "/files/a//b", 400}, {"GET", "/files/a/%2e%2e/", 400},
		{"DELETE", "/files/hello.txt", 405}, {"BREW", "/files/hello.txt", 405}, {"GET", "/elsewhere", 418},
	} {
		code, hdr, _, err := procGet(t.Context(), client, r.method, base+r.path)
		if err != nil || code != r.want {
			t.Fatalf("%s %s: %d %v, want %d", r.method, r.path, code, err, r.want)
		}
		if r.path == "/files/hello.txt" && r.method == "GET" {
			if code, _, body := fetch(t, "GET", hdr.Get("Location"), nil); code != 200 || string(body) != "hello" {
				t.Fatalf("following the redirect: %d %q", code, body)
			}
		}
	}
	text := p.metrics()
	const rule = `profile="vault",rule="rule 1 (/files/*)"`
	for series, want := range map[string]float64{
		`caddy_presign_answers_total{method="GET",outcome="signed",` + rule + `}`:               3,
		`caddy_presign_answers_total{method="HEAD",outcome="signed",` + rule + `}`:              1,
		`caddy_presign_answers_total{method="GET",outcome="bad_key",` + rule + `}`:              2,
		`caddy_presign_answers_total{method="other",outcome="method_not_allowed",` + rule + `}`: 2,
		`caddy_presign_answers_total{method="GET",outcome="unavailable",` + rule + `}`:          0,
		`caddy_presign_sign_duration_seconds_count{profile="vault"}`:                            4,
	} {
		got, ok := metricValue(text, series)
		if !ok || got != want {
			t.Errorf("%s = %v (present: %v), want %v", series, got, ok, want)
		}
	}
	if sum, ok := metricValue(text, `caddy_presign_sign_duration_seconds_sum{profile="vault"}`); !ok || sum <= 0 || sum > 1 {
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
// 302 without a connection error, a second after a reload returned every
// answer is the new config's, and the new rule answers.
func TestProcessReloadUnderLoad(t *testing.T) {
	const (
		workers  = 4
		duration = 6 * time.Second
	)
	s := startProcBucket(t)
	port := loopbackPort(t)
	v1 := procSite(port, s, fmt.Sprintf(procFilesRule, ""))
	v2 := procSite(port, s, fmt.Sprintf(procFilesRule, "expires 10m")+`
		rule /new/* {
			profile vault
			strip_prefix /new
			key fresh/{presign.path}
			expires 10m
		}`)
	v3 := procSite(port, s, fmt.Sprintf(procFilesRule, "expires 5m")+`
		rule /new/* {
			profile vault
			strip_prefix /new
			key fresh/{presign.path}
			expires 5m
		}`)
	p := startCaddy(t, v1, []int{port})
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	client := loadClient(workers)
	defer client.CloseIdleConnections()

	var (
		mu       sync.Mutex
		failures []string
		seen     = map[string]int{} // X-Amz-Expires -> answers
		reloaded [2]time.Time       // when each reload returned
		total    atomic.Int64
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		if len(failures) < 10 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
		mu.Unlock()
	}
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil && i < 200_000; i++ {
				key := "k" + strconv.Itoa((w+i)%8)
				started := time.Now()
				code, hdr, _, err := procGet(context.Background(), client, "GET", base+"/files/"+key)
				total.Add(1)
				if err != nil || code != http.StatusFound {
					fail("worker %d request %d: %d %v", w, i, code, err)
					continue
				}
				loc := hdr.Get("Location")
				if !strings.HasPrefix(loc, s.Endpoint+"/proc/public/"+key+"?") {
					fail("Location %q", loc)
					continue
				}
				u, _ := url.Parse(loc)
				exp, _ := strconv.Atoi(u.Query().Get("X-Amz-Expires"))
				mu.Lock()
				seen[strconv.Itoa(exp)]++
				r := reloaded
				mu.Unlock()
				// Caddy serves with both configs for the moment of the
				// switch; a second after a reload returned, only the new
				after := func(t time.Time) bool { return !t.IsZero() && started.After(t.Add(time.Second)) }
				if after(r[0]) && exp == 900 || after(r[1]) && exp != 300 {
					fail("worker %d request %d, started %s, after the reloads at %s and %s: expires %d, from an old config",
						w, i, started.Format(time.StampMilli), r[0].Format(time.StampMilli), r[1].Format(time.StampMilli), exp)
				}
				if i%100 == 0 {
					if code, _, body, err := procGet(context.Background(), client, "GET", loc); err != nil || code != 200 || string(body) != "object "+key {
						fail("fetching %s: %d %q %v", loc, code, body, err)
					}
				}
			}
		}()
	}
	for i, cfg := range []string{v2, v3} {
		time.Sleep(duration / 4)
		p.reload(cfg)
		mu.Lock()
		reloaded[i] = time.Now()
		mu.Unlock()
	}
	wg.Wait()

	t.Logf("%d requests over 2 reloads; answers by X-Amz-Expires: %v", total.Load(), seen)
	for _, f := range failures {
		t.Error(f)
	}
	if seen["900"] == 0 || seen["600"] == 0 || seen["300"] == 0 || len(seen) != 3 {
		t.Errorf("lifetimes seen %v: want answers of all three configs and nothing else", seen)
	}
	code, hdr, _, err := procGet(t.Context(), client, "GET", base+"/new/x.txt")
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
	if testenv.InCI() {
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
	port := loopbackPort(t)
	p := startCaddy(t, procSite(port, s, fmt.Sprintf(procFilesRule, "")), []int{port}, "metrics")
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	client := loadClient(workers)
	defer client.CloseIdleConnections()

	if code, _, _, err := procGet(t.Context(), client, "GET", base+"/files/k0"); err != nil || code != 302 {
		t.Fatalf("first request: %d %v", code, err)
	}
	client.CloseIdleConnections()
	time.Sleep(500 * time.Millisecond)
	idleG := procGoroutines(t, p)

	var (
		mu         sync.Mutex
		failures   []string
		total      atomic.Int64
		fetched    atomic.Int64
		inSteady   atomic.Int64
		steadyFrom atomic.Bool
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		if len(failures) < 10 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
		mu.Unlock()
	}
	ctx, cancel := context.WithTimeout(context.Background(), warmup+steady)
	defer cancel()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for i := 0; ctx.Err() == nil && i < 10_000_000; i++ {
				method, path, want, key := "GET", "", 302, ""
				switch n := rng.IntN(100); {
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
				code, hdr, _, err := procGet(context.Background(), client, method, base+path)
				total.Add(1)
				if steadyFrom.Load() {
					inSteady.Add(1)
				}
				if err != nil || code != want {
					fail("%s %s: %d %v, want %d", method, path, code, err, want)
					continue
				}
				if want != 302 {
					continue
				}
				loc := hdr.Get("Location")
				if !strings.HasPrefix(loc, s.Endpoint+"/proc/public/"+key+"?") {
					fail("%s %s: Location %q", method, path, loc)
					continue
				}
				if i%500 == 0 && strings.HasPrefix(key, "k") {
					fetched.Add(1)
					code, _, body, err := procGet(context.Background(), client, method, loc)
					if err != nil || code != 200 || (method == "GET" && string(body) != "object "+key) {
						fail("fetching %s %s: %d %q %v", method, loc, code, body, err)
					}
				}
			}
		}()
	}

	time.Sleep(warmup)
	steadyFrom.Store(true)
	rss0, start := p.rssKiB(), time.Now()
	heap0 := procMetric(t, p, "go_memstats_heap_inuse_bytes")
	busyG := procGoroutines(t, p)
	var rssMax int64
	for ctx.Err() == nil {
		rssMax = max(rssMax, p.rssKiB())
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	rss1 := p.rssKiB()
	heap1 := procMetric(t, p, "go_memstats_heap_inuse_bytes")
	elapsed := time.Since(start)
	wg.Wait()
	client.CloseIdleConnections()

	// the process's goroutines return to their idle count
	var g int
	deadline := time.Now().Add(10 * time.Second)
	for g = procGoroutines(t, p); g > idleG+3 && time.Now().Before(deadline); g = procGoroutines(t, p) {
		time.Sleep(200 * time.Millisecond)
	}

	rps := float64(inSteady.Load()) / elapsed.Seconds()
	t.Logf("steady %s: %d requests (%.0f/s, %d in all), %d URLs fetched; RSS %d KiB at the start, %d KiB at the end (max %d); heap in use %.1f MiB -> %.1f MiB; goroutines: %d idle before, %d under load, %d idle after",
		elapsed.Round(time.Second), inSteady.Load(), rps, total.Load(), fetched.Load(), rss0, rss1, rssMax,
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

// procGoroutines is the process's go_goroutines gauge.
func procGoroutines(t *testing.T, p *procCaddy) int {
	t.Helper()
	return int(procMetric(t, p, "go_goroutines"))
}

func procMetric(t *testing.T, p *procCaddy, name string) float64 {
	t.Helper()
	v, ok := metricValue(p.metrics(), name)
	if !ok {
		t.Fatalf("no %s in /metrics", name)
	}
	return v
}
