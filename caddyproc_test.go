package presign

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-presign/presign/internal/testenv"
)

// Helpers for tests that run real Caddy processes (process_test.go,
// hostile_test.go, secrets_test.go) and real HTTP servers around an
// in-process handler. All traffic stays on 127.0.0.1.

// procBuild is the Caddy binary built once per test binary from ./cmd/caddy
// (Caddy's standard modules and presign), removed by TestMain.
var procBuild struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if procBuild.dir != "" {
		os.RemoveAll(procBuild.dir)
	}
	os.Exit(code)
}

// caddyBinary returns the path of a Caddy binary with this module, built on
// first use with the go command that runs the tests (no race detector: the
// process is the system under test, the test binary is the load).
func caddyBinary(t testing.TB) string {
	t.Helper()
	procBuild.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		procBuild.dir, procBuild.err = os.MkdirTemp("", "presign-caddy-")
		if procBuild.err != nil {
			return
		}
		bin := filepath.Join(procBuild.dir, "caddy")
		cmd := exec.Command(goTool, "build", "-o", bin, "./cmd/caddy")
		cmd.Dir = testenv.RepoRoot()
		out, err := cmd.CombinedOutput()
		if err != nil {
			procBuild.err = fmt.Errorf("go build ./cmd/caddy: %v\n%s", err, out)
			return
		}
		procBuild.bin = bin
	})
	if procBuild.err != nil {
		t.Fatalf("building Caddy: %v", procBuild.err)
	}
	return procBuild.bin
}

// loopbackPort returns a free TCP port on 127.0.0.1.
func loopbackPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// procCaddy is a running Caddy process owned by one test.
type procCaddy struct {
	t       testing.TB
	bin     string
	dir     string // working directory, HOME and XDG dirs, config and logs
	Admin   string // admin API host:port
	Log     string // the process's own log (JSON, every module), written by Caddy
	global  string // the global options block, kept across reloads
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	reloads int
}

// startCaddy starts Caddy with a Caddyfile made of a global options block
// (admin API on a free loopback port, no automatic HTTPS, loopback binds
// only, the process log as JSON in a file, plus extraGlobal lines) and the
// given sites, and waits until the admin API and every port in ports answer.
func startCaddy(t testing.TB, sites string, ports []int, extraGlobal ...string) *procCaddy {
	t.Helper()
	p := &procCaddy{t: t, bin: caddyBinary(t), dir: t.TempDir(), exited: make(chan struct{})}
	p.Admin = "127.0.0.1:" + strconv.Itoa(loopbackPort(t))
	p.Log = filepath.Join(p.dir, "caddy.log")
	p.global = fmt.Sprintf(`{
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
`, p.Admin, strings.Join(extraGlobal, "\n\t"), p.Log)
	cfg := p.writeConfig(sites)
	out, err := os.Create(filepath.Join(p.dir, "stdout.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	p.cmd = exec.Command(p.bin, "run", "--config", cfg, "--adapter", "caddyfile")
	p.cmd.Dir = p.dir
	p.cmd.Stdout, p.cmd.Stderr = out, out
	p.cmd.Env = p.env()
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting Caddy: %v", err)
	}
	go func() { p.waitErr = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(p.stop)

	deadline := time.Now().Add(20 * time.Second)
	hc := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-p.exited:
			t.Fatalf("Caddy exited at start (%v):\n%s", p.waitErr, p.tail(4000))
		default:
		}
		if resp, err := hc.Get("http://" + p.Admin + "/config/"); err == nil {
			resp.Body.Close()
			ready := true
			for _, port := range ports {
				c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
				if err != nil {
					ready = false
					break
				}
				c.Close()
			}
			if ready {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Caddy did not answer within 20s:\n%s", p.tail(4000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// env is the process environment: the test's, with HOME and the XDG
// directories in the process's own temporary directory, so that Caddy
// writes nothing outside it.
func (p *procCaddy) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+p.dir, "XDG_DATA_HOME="+filepath.Join(p.dir, "data"),
		"XDG_CONFIG_HOME="+filepath.Join(p.dir, "config"), "XDG_CACHE_HOME="+filepath.Join(p.dir, "cache"))
}

func (p *procCaddy) writeConfig(sites string) string {
	p.t.Helper()
	p.reloads++
	cfg := filepath.Join(p.dir, fmt.Sprintf("Caddyfile.%d", p.reloads))
	if err := os.WriteFile(cfg, []byte(p.global+sites), 0o600); err != nil {
		p.t.Fatal(err)
	}
	return cfg
}

// reload runs `caddy reload` with new sites (same global options) and
// fails the test if it does not succeed.
func (p *procCaddy) reload(sites string) {
	p.t.Helper()
	cfg := p.writeConfig(sites)
	cmd := exec.Command(p.bin, "reload", "--config", cfg, "--adapter", "caddyfile", "--address", p.Admin)
	cmd.Dir = p.dir
	cmd.Env = p.env()
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("caddy reload: %v\n%s", err, out)
	}
}

// Pid is the process ID.
func (p *procCaddy) Pid() int { return p.cmd.Process.Pid }

// rssKiB is the process's resident set size (VmRSS of /proc/PID/status).
func (p *procCaddy) rssKiB() int64 {
	p.t.Helper()
	return vmRSS(p.t, p.Pid())
}

func vmRSS(t testing.TB, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("reading VmRSS: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil || len(f) < 2 || f[1] != "kB" {
				t.Fatalf("VmRSS line %q", line)
			}
			return n
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// metrics returns the admin API's /metrics text.
func (p *procCaddy) metrics() string {
	p.t.Helper()
	resp, err := http.Get("http://" + p.Admin + "/metrics")
	if err != nil {
		p.t.Fatalf("scraping metrics: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		p.t.Fatalf("scraping metrics: %d %s", resp.StatusCode, b)
	}
	return string(b)
}

// metric returns the value of the sample whose name and labels (as in the
// exposition format, e.g. `caddy_presign_answers_total{method="GET",...}`)
// start the line, and whether it is there.
func metricValue(text, series string) (float64, bool) {
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}

// stop ends the process: SIGINT (graceful), then SIGKILL after 10 s. The
// logs are shown when the test failed.
func (p *procCaddy) stop() {
	select {
	case <-p.exited:
	default:
		p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-p.exited
		}
	}
	if p.t.Failed() {
		p.t.Logf("Caddy log (tail):\n%s", p.tail(6000))
	}
}

func (p *procCaddy) tail(n int) string {
	var b bytes.Buffer
	for _, f := range []string{filepath.Join(p.dir, "stdout.log"), p.Log} {
		data, _ := os.ReadFile(f)
		if len(data) > n {
			data = data[len(data)-n:]
		}
		fmt.Fprintf(&b, "--- %s\n%s\n", filepath.Base(f), data)
	}
	return b.String()
}

// rawAnswer is a response read off a raw connection.
type rawAnswer struct {
	Code   int
	Header http.Header
	Body   []byte
}

// rawRequest sends request (a request line and header lines, without the
// final empty line; "\n" separators become CRLF) byte for byte to addr,
// with Host and Connection: close added, and reads the answer. Nothing
// cleans or encodes the request line, unlike Go's client.
func rawRequest(t testing.TB, addr, request string) rawAnswer {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	lines := strings.Split(request, "\n")
	msg := strings.Join(lines, "\r\n") + "\r\nHost: " + addr + "\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatalf("write to %s: %v", addr, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%q: reading the answer: %v", clipped(lines[0], 100), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return rawAnswer{Code: resp.StatusCode, Header: resp.Header, Body: body}
}

func clipped(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("...(%d bytes)", len(s))
}

// handlerServer serves h on a loopback httptest server as Caddy would: a
// prepared request with a replacer (before, if given, runs after
// preparation, e.g. to set http.auth.user.id like an auth handler), the
// handler's error turned into its status, and a next handler that answers
// 418 "next".
func handlerServer(t testing.TB, h *Handler, before func(*http.Request, *caddy.Replacer)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		repl := caddy.NewReplacer()
		r = caddyhttp.PrepareRequest(r, repl, w, nil)
		if before != nil {
			before(r, repl)
		}
		err := h.ServeHTTP(w, r, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			w.WriteHeader(http.StatusTeapot)
			_, err := io.WriteString(w, "next")
			return err
		}))
		if err != nil {
			var he caddyhttp.HandlerError
			if !errors.As(err, &he) {
				he.StatusCode = http.StatusInternalServerError
			}
			w.WriteHeader(he.StatusCode)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// loadClient is an HTTP client for load loops: no redirects followed,
// enough idle connections that workers reuse theirs instead of opening a
// new one per request.
func loadClient(workers int) *http.Client {
	return &http.Client{
		Timeout:       20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        2 * workers,
			MaxIdleConnsPerHost: 2 * workers,
			IdleConnTimeout:     30 * time.Second,
		},
	}
}

// procGet does one request with c and returns the status, headers and body,
// or the transport error.
func procGet(ctx context.Context, c *http.Client, method, u string) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return 0, nil, nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}
