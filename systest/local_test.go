package systest

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-presign/presign/systest/harness"
)

// Tests of the local kind: links a Caddy process signs and checks itself,
// with file_server and reverse_proxy behind the guard.

const (
	linkKeyK2 = "system-test-link-key-k2-0123456789abcdef"
	linkKeyK1 = "system-test-link-key-k1-0123456789abcdef"
)

var linkEnv = []string{"LINK_KEY_K2=" + linkKeyK2, "LINK_KEY_K1=" + linkKeyK1}

// localTree makes the served directory: hello.bin (random bytes),
// reports/q1.pdf, "reports/2026 Q1.pdf", and escape, a symlink to a file
// outside it. It returns the directory and hello.bin's content.
func localTree(t *testing.T) (string, []byte) {
	dir := filepath.Join(t.TempDir(), "files")
	outside := filepath.Join(filepath.Dir(dir), "secret.txt")
	hello := make([]byte, 100_000)
	rand.Read(hello)
	for name, body := range map[string][]byte{
		"hello.bin": hello, "reports/q1.pdf": []byte("q1 report"), "reports/2026 Q1.pdf": []byte("2026 q1 report"),
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(outside, []byte("outside the root"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "escape")); err != nil {
		t.Fatal(err)
	}
	return dir, hello
}

// localSite is a site with a local profile guarding /s over dir (file_server)
// and one guarding /p (reverse_proxy to upstream), and their rules.
func localSite(port int, dir, upstream string) string {
	return site(port, `presign {
		profile files local {
			key k2 {env.LINK_KEY_K2}
			key k1 {env.LINK_KEY_K1}
			serve /s
			root `+dir+`
		}
		profile app local {
			key k2 {env.LINK_KEY_K2}
			serve /p
		}
		rule /dl/* {
			profile files
			strip_prefix /dl
			expires 10m
		}
		rule /ip/* {
			profile files
			strip_prefix /ip
			bind_client_ip
		}
		rule /ex/* {
			profile files
			strip_prefix /ex
			check_exists
		}
		rule /ls/* {
			profile files
			strip_prefix /ls
			browse
		}
		rule /app/* {
			profile app
			strip_prefix /app
		}
		rule /tree/* {
			profile files
			strip_prefix /tree
			resource reports/*
		}
	}
	handle_path /s/* {
		root * `+dir+`
		file_server
	}
	handle /p/* {
		reverse_proxy `+upstream+`
	}`)
}

// follow does method on u with the redirect followed by Go's client (same
// host: headers kept), from the local address from ("" for any).
func follow(t *testing.T, from, method, u string, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	d := &net.Dialer{}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	defer c.CloseIdleConnections()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// recordingUpstream starts an upstream for reverse_proxy that answers
// "upstream <path>" and records what pick takes of each request; it
// returns its address and the records so far.
func recordingUpstream(t *testing.T, pick func(*http.Request) string) (string, func() []string) {
	var mu sync.Mutex
	var seen []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, pick(r))
		mu.Unlock()
		fmt.Fprintf(w, "upstream %s", r.URL.Path)
	}))
	t.Cleanup(up.Close)
	return up.Listener.Addr().String(), func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

// TestLocalLinks: a Caddy process signs links to files it serves and
// checks them: the redirect followed returns the file byte for byte, HEAD
// and a Range (206) too; no request without a valid link under /s reaches
// file_server, by any spelling of the path; reverse_proxy's upstream gets
// no link parameter; a link bound to 127.0.0.1 is refused from 127.0.0.2;
// a folder link opens two files of its tree and not a file beside it;
// check_exists and browse do not see a symlink that leaves root.
func TestLocalLinks(t *testing.T) {
	dir, hello := localTree(t)
	upstream, upstreamSaw := recordingUpstream(t, func(r *http.Request) string { return r.RequestURI })
	port := harness.Port(t)
	p := harness.StartCaddyEnv(t, linkEnv, localSite(port, dir, upstream), []int{port}, "metrics")
	base := "http://127.0.0.1:" + strconv.Itoa(port)

	code, hdr, _ := harness.Fetch(t, "GET", base+"/dl/hello.bin", nil)
	loc := hdr.Get("Location")
	if code != http.StatusFound || !strings.HasPrefix(loc, "/s/hello.bin?pl_v=1&") {
		t.Fatalf("GET /dl/hello.bin: %d, Location %q", code, loc)
	}
	if code, _, body := follow(t, "", "GET", base+"/dl/hello.bin", nil); code != 200 || !bytes.Equal(body, hello) {
		t.Fatalf("following the redirect: %d, %d bytes (want 200, the file's %d)", code, len(body), len(hello))
	}
	if code, h, body := follow(t, "", "HEAD", base+"/dl/hello.bin", nil); code != 200 || len(body) != 0 || h.Get("Content-Length") != strconv.Itoa(len(hello)) {
		t.Errorf("HEAD: %d, Content-Length %q", code, h.Get("Content-Length"))
	}
	code, h, body := follow(t, "", "GET", base+"/dl/hello.bin", map[string]string{"Range": "bytes=1000-1999"})
	if code != http.StatusPartialContent || !bytes.Equal(body, hello[1000:2000]) || h.Get("Content-Range") != "bytes 1000-1999/100000" {
		t.Errorf("Range: %d, %d bytes, Content-Range %q", code, len(body), h.Get("Content-Range"))
	}

	// no valid link, no file: every spelling of the path is guarded
	q := loc[strings.IndexByte(loc, '?'):]
	for _, c := range []struct {
		path string
		want int
	}{
		{"/s/hello.bin", 403},
		{"/S/hello.bin", 403},
		{"//s/hello.bin", 403},
		{"/s//hello.bin", 403},
		{"/x/../s/hello.bin", 403},
		{"/%73/hello.bin", 403},
		{"/s/./hello.bin" + q, 403},
		{"/s/reports/q1.pdf" + q, 403},
		{"/s/Hello.bin" + q, 403},
		{"/s/hello.bin" + q + "&x=1", 403},
		{"/s/hello.bin" + strings.Replace(q, "pl_kid=k2", "pl_kid=k1", 1), 403},
	} {
		a := harness.RawRequest(t, "127.0.0.1:"+strconv.Itoa(port), "GET "+c.path+" HTTP/1.1")
		if a.Code != c.want || bytes.Contains(a.Body, hello[:64]) {
			t.Errorf("GET %s: %d (want %d), %d bytes", c.path, a.Code, c.want, len(a.Body))
		}
	}

	// a folder link opens two files of its tree, and no file outside it
	_, hdr, _ = harness.Fetch(t, "GET", base+"/tree/reports/q1.pdf", nil)
	folder := hdr.Get("Location")
	tok, _, found := strings.Cut(folder, "/reports/")
	if !found || !strings.HasPrefix(tok, "/s/~pl1.1.") {
		t.Fatalf("folder link %q", folder)
	}
	for file, want := range map[string]string{"/reports/q1.pdf": "q1 report", "/reports/2026%20Q1.pdf": "2026 q1 report"} {
		if code, _, body := harness.Fetch(t, "GET", base+tok+file, nil); code != 200 || string(body) != want {
			t.Errorf("the folder link's %s: %d %q", file, code, body)
		}
	}
	if code, _, body := harness.Fetch(t, "GET", base+tok+"/hello.bin", nil); code != 403 || bytes.Contains(body, hello[:64]) {
		t.Errorf("the folder link's token for a file outside the folder: %d, want 403", code)
	}

	// reverse_proxy behind the guard: the upstream sees a clean request
	code, _, body = follow(t, "", "GET", base+"/app/api/item", nil)
	if code != 200 || string(body) != "upstream /p/api/item" {
		t.Errorf("through reverse_proxy: %d %q", code, body)
	}
	if code, _, _ := harness.Fetch(t, "GET", base+"/p/api/item", nil); code != 403 {
		t.Errorf("unsigned request to the upstream: %d, want 403", code)
	}
	if saw := upstreamSaw(); len(saw) != 1 || saw[0] != "/p/api/item" {
		t.Errorf("the upstream saw %q, want one clean /p/api/item", saw)
	}

	// bind_client_ip: made for 127.0.0.1, refused from 127.0.0.2
	_, hdr, _ = harness.Fetch(t, "GET", base+"/ip/reports/q1.pdf", nil)
	ipLink := base + hdr.Get("Location")
	if !strings.Contains(ipLink, "&pl_ip=127.0.0.1&") {
		t.Fatalf("bind_client_ip link %s", ipLink)
	}
	if code, _, body := follow(t, "127.0.0.1", "GET", ipLink, nil); code != 200 || string(body) != "q1 report" {
		t.Errorf("from 127.0.0.1: %d %q", code, body)
	}
	if code, _, _ := follow(t, "127.0.0.2", "GET", ipLink, nil); code != 403 {
		t.Errorf("the link of 127.0.0.1 from 127.0.0.2: %d, want 403", code)
	}
	if code, _, body := follow(t, "127.0.0.2", "GET", base+"/ip/reports/q1.pdf", nil); code != 200 || string(body) != "q1 report" {
		t.Errorf("127.0.0.2's own link: %d %q", code, body)
	}

	// check_exists and browse through os.Root: the symlink out of root
	// is neither signed nor listed
	if code, _, _ := harness.Fetch(t, "GET", base+"/ex/reports/q1.pdf", nil); code != 302 {
		t.Errorf("check_exists of an existing file: %d", code)
	}
	for _, missing := range []string{"/ex/escape", "/ex/nothing.txt", "/ex/reports"} {
		if code, _, _ := harness.Fetch(t, "GET", base+missing, nil); code != 404 {
			t.Errorf("check_exists %s: %d, want 404", missing, code)
		}
	}
	code, _, body = harness.Fetch(t, "GET", base+"/ls/", nil, func(r *http.Request) { r.Header.Set("Accept", "application/json") })
	if code != 200 || !strings.Contains(string(body), "hello.bin") || !strings.Contains(string(body), "reports/") || strings.Contains(string(body), "escape") {
		t.Errorf("browse /ls/: %d %s", code, body)
	}

	text := p.Metrics()
	for _, outcome := range []string{"verified", "refused"} {
		if v, _ := harness.MetricValue(text, `caddy_presign_verifications_total{outcome="`+outcome+`",profile="files"}`); v == 0 {
			t.Errorf("no %s verification counted", outcome)
		}
	}
}

// startServingCaddy starts a Caddy process that only serves links: a
// local profile with key k2 guarding /s, file_server over dir.
func startServingCaddy(t *testing.T, port int, dir string) {
	harness.StartCaddyEnv(t, linkEnv, site(port, `presign {
		profile files local {
			key k2 {env.LINK_KEY_K2}
			serve /s
		}
	}
	handle_path /s/* {
		root * `+dir+`
		file_server
	}`), []int{port})
}

// TestLocalFleet: one Caddy signs with base, another with the same keys
// serves: the link of the first opens the file on the second, and the
// second refuses it once tampered.
func TestLocalFleet(t *testing.T) {
	dir, hello := localTree(t)
	signPort, servePort := harness.Port(t), harness.Port(t)
	serveBase := "http://127.0.0.1:" + strconv.Itoa(servePort)
	harness.StartCaddyEnv(t, linkEnv, site(signPort, `presign {
		profile files local {
			key k2 {env.LINK_KEY_K2}
			base `+serveBase+`/s
		}
		rule /dl/* {
			profile files
			strip_prefix /dl
		}
	}`), []int{signPort})
	startServingCaddy(t, servePort, dir)

	_, hdr, _ := harness.Fetch(t, "GET", fmt.Sprintf("http://127.0.0.1:%d/dl/hello.bin", signPort), nil)
	link := hdr.Get("Location")
	if !strings.HasPrefix(link, serveBase+"/s/hello.bin?") {
		t.Fatalf("the signing Caddy's link %q is not on the serving one", link)
	}
	if code, _, body := harness.Fetch(t, "GET", link, nil); code != 200 || !bytes.Equal(body, hello) {
		t.Fatalf("the serving Caddy: %d, %d bytes", code, len(body))
	}
	if code, _, _ := harness.Fetch(t, "GET", harness.TamperParam(t, link, "pl_sig"), nil); code != 403 {
		t.Errorf("a tampered link: %d, want 403", code)
	}
}

// TestLocalREADMERecipes: the Python and openssl recipes of the link format
// in docs/providers.md mint links that a Caddy process accepts, and refuses
// once tampered.
func TestLocalREADMERecipes(t *testing.T) {
	recipe := func(lang string) string {
		r := docSnippet(t, "docs/providers.md", lang, "link-recipe")
		if !strings.Contains(r, "presign-link-v1") {
			t.Fatalf("the %s recipe of docs/providers.md does not sign presign-link-v1", lang)
		}
		return r
	}
	dir, _ := localTree(t)
	port := harness.Port(t)
	startServingCaddy(t, port, dir)
	base := "http://127.0.0.1:" + strconv.Itoa(port)

	for _, c := range []struct {
		name string
		cmd  []string
		want string
	}{
		{"python", []string{"python3", "-c", recipe("python")}, "2026 q1 report"},
		{"openssl", []string{"bash", "-c", recipe("sh")}, "q1 report"},
	} {
		if _, err := exec.LookPath(c.cmd[0]); err != nil {
			t.Skipf("%s: %v", c.name, err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		cmd := exec.CommandContext(ctx, c.cmd[0], c.cmd[1:]...)
		cmd.Env = append(os.Environ(), "LINK_KEY_K2="+linkKeyK2)
		out, err := cmd.Output()
		cancel()
		if err != nil {
			t.Fatalf("%s recipe: %v", c.name, err)
		}
		link := base + strings.TrimSpace(string(out))
		if code, _, body := harness.Fetch(t, "GET", link, nil); code != 200 || string(body) != c.want {
			t.Errorf("%s recipe's link %s: %d %q, want 200 %q", c.name, link, code, body, c.want)
		}
		if code, _, _ := harness.Fetch(t, "GET", harness.TamperParam(t, link, "pl_sig"), nil); code != 403 {
			t.Errorf("%s recipe's link tampered: %d, want 403", c.name, code)
		}
	}
}

// TestDemoFilesOnThisServer: the demo's sixth section, "Files on this
// server", with demo/Caddyfile unchanged: its link opens the repository's
// LICENSE, and /files/ without a link is 403. No store is involved: the
// S3 profile's endpoint is never asked.
func TestDemoFilesOnThisServer(t *testing.T) {
	port := strconv.Itoa(harness.Port(t))
	t.Setenv("DEMO_PORT", port)
	t.Setenv("DEMO_S3_PORT", strconv.Itoa(harness.Port(t)))
	t.Setenv("DEMO_ACCESS_KEY", "DEMOACCESSKEY")
	t.Setenv("DEMO_SECRET_KEY", "demo-secret-key")
	t.Setenv("DEMO_LINK_KEY", "demo-link-key-0123456789abcdef0123456789")
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Chdir(harness.RepoRoot())
	harness.LoadCaddyfile(t, "demo/Caddyfile")
	license, err := os.ReadFile("LICENSE")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://127.0.0.1:" + port
	code, hdr, _ := harness.Fetch(t, "GET", base+"/local/LICENSE", nil)
	if loc := hdr.Get("Location"); code != 302 || !strings.HasPrefix(loc, "/files/LICENSE?pl_v=1&") {
		t.Fatalf("GET /local/LICENSE: %d, Location %q", code, loc)
	}
	if code, _, body := follow(t, "", "GET", base+"/local/LICENSE", nil); code != 200 || !bytes.Equal(body, license) {
		t.Errorf("the demo's link: %d, %d bytes (want the LICENSE's %d)", code, len(body), len(license))
	}
	if code, _, _ := harness.Fetch(t, "GET", base+"/files/LICENSE", nil); code != 403 {
		t.Errorf("GET /files/LICENSE without a link: %d, want 403", code)
	}
	if code, _, _ := harness.Fetch(t, "GET", base+"/local/README.md", nil); code != 404 {
		t.Errorf("GET /local/README.md: %d, want 404 (only LICENSE is offered)", code)
	}
}

// TestLocalCookies: a rule with cookies answers with a signed cookie for
// its folder and a redirect; a client with a cookie jar that follows it
// fetches two files of the tree, and a file outside the folder is 403. A
// tampered cookie is 403. Behind reverse_proxy, the upstream receives the
// client's other cookies and never the signed one.
func TestLocalCookies(t *testing.T) {
	dir, hello := localTree(t)
	upstream, upstreamCookies := recordingUpstream(t, func(r *http.Request) string { return strings.Join(r.Header.Values("Cookie"), "|") })
	port := harness.Port(t)
	harness.StartCaddyEnv(t, linkEnv, site(port, `presign {
		profile files local {
			key k2 {env.LINK_KEY_K2}
			serve /s
		}
		profile app local {
			key k2 {env.LINK_KEY_K2}
			serve /p
		}
		rule /jar/* {
			profile files
			strip_prefix /jar
			resource reports/*
			cookies
		}
		rule /appjar/* {
			profile app
			strip_prefix /appjar
			resource api/*
			cookies
		}
	}
	handle_path /s/* {
		root * `+dir+`
		file_server
	}
	handle /p/* {
		reverse_proxy `+upstream+`
	}`), []int{port})
	base := "http://127.0.0.1:" + strconv.Itoa(port)

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar}
	defer c.CloseIdleConnections()
	get := func(u string) (int, string) {
		t.Helper()
		resp, err := c.Get(u)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// the rule's answer, followed: the cookie and the plain link
	if code, body := get(base + "/jar/reports/q1.pdf"); code != 200 || body != "q1 report" {
		t.Fatalf("following the cookie rule: %d %q", code, body)
	}
	u, _ := url.Parse(base + "/s/reports/")
	cookies := jar.Cookies(u)
	if len(cookies) != 1 || cookies[0].Name != "presign-link" {
		t.Fatalf("the jar holds %v for /s/reports/, want one presign-link cookie", cookies)
	}
	if code, body := get(base + "/s/reports/2026%20Q1.pdf"); code != 200 || body != "2026 q1 report" {
		t.Errorf("a second file of the folder with the cookie: %d %q", code, body)
	}
	// outside the folder: the browser would not even send it; sent anyway, refused
	if code, body := get(base + "/s/hello.bin"); code != 403 || strings.Contains(body, string(hello[:64])) {
		t.Errorf("a file outside the folder: %d, want 403", code)
	}
	hdr := map[string]string{"Cookie": "presign-link=" + cookies[0].Value}
	if code, _, body := follow(t, "", "GET", base+"/s/hello.bin", hdr); code != 403 || bytes.Contains(body, hello[:64]) {
		t.Errorf("a file outside the folder, the cookie sent: %d, want 403", code)
	}
	v := cookies[0].Value
	tampered := []byte(v)
	tampered[len(v)-5] ^= 1 // a letter or digit of the signature, another one
	hdr["Cookie"] = "presign-link=" + string(tampered)
	if code, _, _ := follow(t, "", "GET", base+"/s/reports/q1.pdf", hdr); code != 403 {
		t.Errorf("a tampered cookie: %d, want 403", code)
	}

	// behind reverse_proxy: the upstream never sees the signed cookie
	pu, _ := url.Parse(base + "/p/")
	jar.SetCookies(pu, []*http.Cookie{{Name: "session", Value: "abc", Path: "/"}})
	if code, body := get(base + "/appjar/api/item"); code != 200 || body != "upstream /p/api/item" {
		t.Errorf("through reverse_proxy with the cookie: %d %q", code, body)
	}
	if saw := upstreamCookies(); len(saw) != 1 || saw[0] != "session=abc" {
		t.Errorf("the upstream saw the cookies %q, want only session=abc", saw)
	}
}
