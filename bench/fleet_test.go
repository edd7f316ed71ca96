package bench

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fleetCaddyfile is one instance of a fleet: S3 and CloudFront rules with
// stable, and each without it for contrast.
const fleetCaddyfile = `{
	admin off
	auto_https off
	persist_config off
	log {
		level ERROR
	}
}

http://127.0.0.1:{$FLEET_PORT} {
	presign {
		profile s3 s3 {
			bucket fleet-bucket
			region eu-central-1
			access_key_id AKIAIOSFODNN7EXAMPLE
			secret_access_key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
		}
		profile cf cloudfront {
			domain d111111abcdef8.cloudfront.net
			key_pair_id K2JCJMDEHXQW5F
			private_key_file {$FLEET_CF_KEY}
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
	}
}
`

// TestFleetStableURLs: two Caddy processes with the same config and
// `stable` answer the same key with the same URL, byte for byte, without
// sharing anything: S3 (SigV4 over the window's start) and CloudFront
// (RSA PKCS#1 v1.5 signatures are deterministic).
func TestFleetStableURLs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs two Caddy processes")
	}
	bin := buildCaddy(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(conf, []byte(fleetCaddyfile), 0o644); err != nil {
		t.Fatal(err)
	}
	key, _ := filepath.Abs(filepath.Join("..", "signers", "testdata", "cloudfront-rsa-pkcs1.pem"))
	a := startFleetCaddy(t, bin, conf, key, "a")
	b := startFleetCaddy(t, bin, conf, key, "b")

	client := &http.Client{Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	location := func(port int, path string) string {
		t.Helper()
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("GET %s on :%d: %d, want 302", path, port, resp.StatusCode)
		}
		if cc := resp.Header.Get("Cache-Control"); !strings.HasPrefix(cc, "private, max-age=") {
			t.Fatalf("GET %s: Cache-Control %q, want private, max-age=...", path, cc)
		}
		return resp.Header.Get("Location")
	}

	seen := map[string]string{}
	for _, path := range []string{"/s3/reports/q3.pdf", "/s3/images/caf%C3%A9.jpg", "/cf/videos/intro.mp4", "/cf/a%20b/c.zarr/.zattrs"} {
		// both answers must fall in the same 10-minute window: retry
		// (at most twice) when a window boundary passes in between
		for attempt := 0; ; attempt++ {
			w := time.Now().Unix() / 600
			ua := location(a.port, path)
			time.Sleep(1100 * time.Millisecond) // another second: no per-second coincidence
			ub := location(b.port, path)
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

// buildCaddy builds ./cmd/caddy into a temporary directory.
func buildCaddy(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "caddy")
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(goTool, "build", "-o", bin, "./cmd/caddy")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/caddy: %v\n%s", err, out)
	}
	return bin
}

type fleetCaddy struct{ port int }

// startFleetCaddy runs one instance and waits until it answers.
func startFleetCaddy(t *testing.T, bin, conf, key, name string) fleetCaddy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	home := t.TempDir()
	logf, err := os.Create(filepath.Join(home, "caddy.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	logText := func() string { b, _ := os.ReadFile(logf.Name()); return string(b) }
	cmd := exec.Command(bin, "run", "--adapter", "caddyfile", "--config", conf)
	cmd.Env = append(os.Environ(), "FLEET_PORT="+strconv.Itoa(port), "FLEET_CF_KEY="+key,
		"HOME="+home, "XDG_DATA_HOME="+home, "XDG_CONFIG_HOME="+home)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; {
		select {
		case <-done:
			t.Fatalf("caddy %s exited at start:\n%s", name, logText())
		default:
		}
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return fleetCaddy{port: port}
		}
		if time.Now().After(deadline) {
			t.Fatalf("caddy %s not listening after 30s:\n%s", name, logText())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
