package harness

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/caddy-presign/presign"
)

// caddyBuild is the Caddy binary built once per test binary from
// ./cmd/caddy of the module under test; Cleanup removes it.
var caddyBuild struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// CaddyBinary returns the path of a Caddy binary with Caddy's standard
// modules and presign, built on first use with `go build ./cmd/caddy` in the
// repository root (no race detector: the process is the system under test,
// the test binary is the load).
func CaddyBinary(t testing.TB) string {
	t.Helper()
	caddyBuild.once.Do(func() {
		caddyBuild.dir, caddyBuild.err = os.MkdirTemp("", "presign-caddy-")
		if caddyBuild.err != nil {
			return
		}
		bin := filepath.Join(caddyBuild.dir, "caddy")
		// go test puts its own go first in PATH
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/caddy")
		cmd.Dir = RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			caddyBuild.err = fmt.Errorf("go build ./cmd/caddy: %v\n%s", err, out)
			return
		}
		caddyBuild.bin = bin
	})
	if caddyBuild.err != nil {
		t.Fatalf("harness: building Caddy: %v", caddyBuild.err)
	}
	return caddyBuild.bin
}

// Cleanup removes what the harness keeps across tests (the Caddy binary).
// TestMain calls it after the tests ran.
func Cleanup() {
	if caddyBuild.dir != "" {
		os.RemoveAll(caddyBuild.dir)
	}
}

// Caddy is a Caddy server owned by one test, on 127.0.0.1 only, configured
// by a Caddyfile: the harness's global options (see StartCaddy) and the
// test's sites. It runs as a process (StartCaddy) or in the test binary
// (LoadCaddy), and stops when the test ends.
type Caddy struct {
	// Admin is the admin API's host:port (StartCaddy only).
	Admin string
	// Log is Caddy's own log, JSON lines, every module's, at the level the
	// global options set.
	Log string

	t      testing.TB
	dir    string   // working directory, HOME and XDG dirs, configs and logs
	global string   // the global options block, kept across reloads
	extra  []string // StartCaddyEnv's changes to the test's environment
	proc   *Process
	n      int // configs written
}

// globalOptions is the harness's global options block: the admin API at
// admin ("off" for none), no persisted config, no automatic HTTPS, loopback
// binds only, a grace period of 10 s, Caddy's log as JSON in the file log,
// and the test's own lines (e.g. "debug", "metrics").
func globalOptions(admin, log string, extra []string) string {
	return fmt.Sprintf(`{
	admin %s
	persist_config off
	auto_https off
	default_bind 127.0.0.1
	grace_period 10s
	%s
	log {
		output file %s
		format json
	}
}
`, admin, strings.Join(extra, "\n\t"), log)
}

func newCaddy(t testing.TB, admin string, global []string) *Caddy {
	c := &Caddy{t: t, dir: t.TempDir()}
	c.Log = filepath.Join(c.dir, "caddy.log")
	if admin != "off" {
		c.Admin = admin
	}
	c.global = globalOptions(admin, c.Log, global)
	return c
}

// StartCaddy runs the Caddy binary of CaddyBinary as a process with the
// harness's global options (admin API on a free loopback port, nothing
// persisted, no automatic HTTPS, loopback binds only, Caddy's log as JSON
// in c.Log), the lines of global added to them, and the given sites. It
// returns when the admin API and every port in ports answer. The process
// keeps HOME and the XDG directories in a temporary directory of its own.
func StartCaddy(t testing.TB, sites string, ports []int, global ...string) *Caddy {
	t.Helper()
	return StartCaddyEnv(t, nil, sites, ports, global...)
}

// StartCaddyEnv is StartCaddy with env set in the process's environment
// alone (the test binary's own stays as it is): "NAME=value" replaces the
// test's value of NAME, a bare "NAME" removes it.
func StartCaddyEnv(t testing.TB, env []string, sites string, ports []int, global ...string) *Caddy {
	t.Helper()
	c := newCaddy(t, "127.0.0.1:"+strconv.Itoa(Port(t)), global)
	c.extra = env
	hc := &http.Client{Timeout: time.Second}
	var err error
	c.proc, err = StartProcess(ProcessSpec{
		Path:    CaddyBinary(t),
		Args:    []string{"run", "--config", c.writeConfig(sites), "--adapter", "caddyfile"},
		Dir:     c.dir,
		Env:     c.env(),
		LogPath: filepath.Join(c.dir, "stdout.log"),
		Ready: func() bool {
			resp, err := hc.Get("http://" + c.Admin + "/config/")
			if err != nil {
				return false
			}
			resp.Body.Close()
			for _, port := range ports {
				conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
				if err != nil {
					return false
				}
				conn.Close()
			}
			return true
		},
	})
	if err != nil {
		t.Fatalf("harness: starting Caddy: %v\n%s", err, fileTail(c.Log, 4000))
	}
	t.Cleanup(func() {
		c.proc.Stop(10 * time.Second)
		c.logOnFailure()
	})
	return c
}

// LoadCaddy runs Caddy in the test binary (caddy.Load) with the harness's
// global options (as StartCaddy, but no admin API) plus global, and the
// given sites; Caddy is stopped when the test ends. The servers listen when
// it returns. Only one such Caddy runs at a time: tests that use it must
// not be parallel.
func LoadCaddy(t testing.TB, sites string, global ...string) *Caddy {
	t.Helper()
	c := newCaddy(t, "off", global)
	t.Setenv("XDG_DATA_HOME", filepath.Join(c.dir, "data"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(c.dir, "config"))
	load(t, c.writeConfig(sites), t.Logf)
	t.Cleanup(c.logOnFailure)
	return c
}

// LoadCaddyfile runs Caddy in the test binary with the Caddyfile at path as
// it is, as `caddy run --config path` would, until the test ends. A warning
// of the Caddyfile adapter (e.g. on its formatting) fails the test: it is
// for the Caddyfiles the project ships.
func LoadCaddyfile(t testing.TB, path string) {
	t.Helper()
	load(t, path, t.Errorf)
}

// load runs Caddy in the test binary with the Caddyfile at path, reporting
// the adapter's warnings with warn.
func load(t testing.TB, path string, warn func(format string, args ...any)) {
	t.Helper()
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt(body, map[string]any{"filename": path})
	if err != nil {
		t.Fatalf("harness: adapting %s: %v", path, err)
	}
	for _, w := range warnings {
		warn("harness: adapting %s: %s", path, w.String())
	}
	if err := caddy.Load(cfg, true); err != nil {
		t.Fatalf("harness: starting Caddy with %s: %v", path, err)
	}
	t.Cleanup(func() {
		if err := caddy.Stop(); err != nil {
			t.Errorf("harness: stopping Caddy: %v", err)
		}
	})
}

// env is the process environment: the test's, with HOME and the XDG
// directories in the process's own temporary directory, so that Caddy
// writes nothing outside it, and the variables of StartCaddyEnv.
func (c *Caddy) env() []string {
	add := append([]string{
		"HOME=" + c.dir, "XDG_DATA_HOME=" + filepath.Join(c.dir, "data"),
		"XDG_CONFIG_HOME=" + filepath.Join(c.dir, "config"), "XDG_CACHE_HOME=" + filepath.Join(c.dir, "cache"),
	}, c.extra...)
	drop := map[string]bool{}
	for _, kv := range add {
		name, _, _ := strings.Cut(kv, "=")
		drop[name] = true
	}
	return environ(func(name string) bool { return drop[name] },
		slices.DeleteFunc(add, func(kv string) bool { return !strings.Contains(kv, "=") })...)
}

func (c *Caddy) writeConfig(sites string) string {
	c.t.Helper()
	c.n++
	cfg := filepath.Join(c.dir, fmt.Sprintf("Caddyfile.%d", c.n))
	// Tests write their sites as indented Go strings; formatted, the file
	// reads well in a failure's log and the adapter has nothing to warn of.
	if err := os.WriteFile(cfg, caddyfile.Format([]byte(c.global+sites)), 0o600); err != nil {
		c.t.Fatal(err)
	}
	return cfg
}

// Reload runs `caddy reload` with new sites (same global options) and fails
// the test if it does not succeed.
func (c *Caddy) Reload(sites string) {
	c.t.Helper()
	c.mustBeProcess("Reload")
	cmd := exec.Command(c.proc.cmd.Path, "reload", "--config", c.writeConfig(sites), "--adapter", "caddyfile", "--address", c.Admin)
	cmd.Dir, cmd.Env = c.dir, c.env()
	if out, err := cmd.CombinedOutput(); err != nil {
		c.t.Fatalf("caddy reload: %v\n%s", err, out)
	}
}

func (c *Caddy) mustBeProcess(what string) {
	c.t.Helper()
	if c.proc == nil {
		c.t.Fatalf("harness: %s needs a Caddy process (StartCaddy)", what)
	}
}

// RSS is the process's resident set size, in bytes.
func (c *Caddy) RSS() int64 {
	c.t.Helper()
	c.mustBeProcess("RSS")
	n, err := VmRSS(c.proc.Pid())
	if err != nil {
		c.t.Fatalf("harness: %v", err)
	}
	return n
}

// Metrics returns the admin API's /metrics text (StartCaddy with the global
// option "metrics").
func (c *Caddy) Metrics() string {
	c.t.Helper()
	c.mustBeProcess("Metrics")
	resp, err := http.Get("http://" + c.Admin + "/metrics")
	if err != nil {
		c.t.Fatalf("scraping metrics: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("scraping metrics: %d %s", resp.StatusCode, b)
	}
	return string(b)
}

// LiveHeap is the process's live heap in bytes (see AdminLiveHeap).
func (c *Caddy) LiveHeap() int64 {
	c.t.Helper()
	c.mustBeProcess("LiveHeap")
	n, err := AdminLiveHeap(c.Admin)
	if err != nil {
		c.t.Fatalf("harness: %v", err)
	}
	return n
}

// AdminLiveHeap is the live heap in bytes of the Caddy whose admin API is
// at admin (host:port): the Go runtime's HeapAlloc just after a forced
// garbage collection, from /debug/pprof/heap?gc=1, whose text form ends
// with the runtime's MemStats.
func AdminLiveHeap(admin string) (int64, error) {
	resp, err := http.Get("http://" + admin + "/debug/pprof/heap?gc=1&debug=1")
	if err != nil {
		return 0, fmt.Errorf("heap profile: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "# HeapAlloc = "); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("heap profile: %d, no HeapAlloc in %q", resp.StatusCode, Clipped(string(b), 200))
}

// Metric is the value of one sample of Metrics (see MetricValue); its
// absence fails the test.
func (c *Caddy) Metric(series string) float64 {
	c.t.Helper()
	v, ok := MetricValue(c.Metrics(), series)
	if !ok {
		c.t.Fatalf("no %s in /metrics", series)
	}
	return v
}

// MetricValue returns the value of the sample whose name and labels (as in
// the exposition format, e.g. `caddy_presign_answers_total{method="GET",...}`)
// start a line of text, and whether it is there.
func MetricValue(text, series string) (float64, bool) {
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}

// LogText is Caddy's own log so far.
func (c *Caddy) LogText() string {
	c.t.Helper()
	b, err := os.ReadFile(c.Log)
	if err != nil {
		c.t.Fatalf("harness: Caddy's log: %v", err)
	}
	return string(b)
}

// logOnFailure shows the end of Caddy's output and log when the test failed.
func (c *Caddy) logOnFailure() {
	if !c.t.Failed() {
		return
	}
	var b strings.Builder
	if c.proc != nil {
		fmt.Fprintf(&b, "--- stdout and stderr\n%s\n", c.proc.Tail(6000))
	}
	fmt.Fprintf(&b, "--- %s\n%s\n", filepath.Base(c.Log), fileTail(c.Log, 6000))
	c.t.Logf("Caddy's output (tail):\n%s", b.String())
}
