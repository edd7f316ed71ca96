package systest

import (
	"bytes"
	"context"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/caddy-presign/presign/systest/demo"
	"github.com/caddy-presign/presign/systest/harness"
)

// TestDemoInBrowser runs the demo as demo.sh does (versitygw with the seeded
// private bucket, Caddy with demo/Caddyfile unchanged) and drives its page
// in headless Chromium: the download button saves the private report under
// its non-ASCII name with its bytes; every gallery picture loads, and a
// reload within the stable window fetches none of them again, neither from
// Caddy nor from the bucket; the upload form stores a picture in the bucket,
// and Caddy's refusal of a file that is not a picture, or is an SVG,
// reaches the page, and nothing of them reaches the bucket;
// the Browse link lists the demo folder, its subfolder opens with a click,
// and a click on a file there downloads it under its name with its bytes,
// its footer counting "1 folder" and "12 files"; Uppy's dashboard is as
// wide as its card.
//
// Set PRESIGN_DEMO_SCREENSHOT=file.png to keep a screenshot of the page
// (and of the browse page, as file-browse.png).
func TestDemoInBrowser(t *testing.T) {
	harness.LookTool(t, harness.Chromium) // before anything starts
	uppyDist(t)                           // the page's Uppy section
	s := harness.StartS3(t)

	// The bucket's own view of what the browser fetched: a counting proxy
	// in front of versitygw. It keeps the Host header, which the
	// signatures cover.
	bucket := newCountingProxy(t, s.Endpoint)
	sitePort := strconv.Itoa(harness.Port(t))
	page := "http://127.0.0.1:" + sitePort
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := demo.Seed(ctx, s.Client, []string{page}); err != nil {
		t.Fatalf("seeding the demo bucket: %v", err)
	}
	t.Setenv("DEMO_PORT", sitePort)
	t.Setenv("DEMO_S3_PORT", bucket.port)
	t.Setenv("DEMO_ACCESS_KEY", s.AccessKey)
	t.Setenv("DEMO_SECRET_KEY", s.SecretKey)
	t.Setenv("DEMO_LINK_KEY", "demo-link-key-0123456789abcdef0123456789")
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Chdir(harness.RepoRoot()) // as demo.sh runs it: the page is ./demo/index.html
	harness.LoadCaddyfile(t, "demo/Caddyfile")

	// headless Chromium that reaches nothing but loopback
	bctx := harness.Browser(t, ctx, chromedp.WindowSize(1000, 1300))

	// The browser's view: every request of the page, and whether the
	// answer came from the network or from the browser's cache.
	var netlog browserLog
	chromedp.ListenTarget(bctx, netlog.listen)
	var downloads downloadLog
	downloads.done = make(chan *browser.EventDownloadProgress, 1)
	// download events come on the session that asked for them: the page's
	chromedp.ListenTarget(bctx, downloads.listen)

	// (b) the gallery, loaded twice within one stable window (1m): wait for
	// the next window when the current one is nearly over
	if left := time.Minute - time.Duration(time.Now().UnixNano())%time.Minute; left < 25*time.Second {
		t.Logf("waiting %v for the next stable window", left.Round(time.Second))
		time.Sleep(left + 500*time.Millisecond)
	}
	allLoaded := `(() => { const i = [...document.querySelectorAll('.gallery img')];
		return i.length > 0 && i.every(e => e.complete && e.naturalWidth > 0) ? i.length : 0 })()`
	var n int
	if err := chromedp.Run(bctx,
		chromedp.Navigate(page+"/"),
		chromedp.Poll(allLoaded, &n, chromedp.WithPollingTimeout(20*time.Second)),
	); err != nil {
		t.Fatalf("loading the demo page and its %d pictures: %v\n%s", demo.GalleryCount, err, netlog.String())
	}
	if n != demo.GalleryCount {
		t.Errorf("%d pictures on the page, want %d", n, demo.GalleryCount)
	}
	// Uppy's dashboard fills its card: its width is the card's content width
	var widths []float64
	if err := chromedp.Run(bctx, chromedp.Poll(`(() => {
		const d = document.querySelector('#uppy .uppy-Dashboard-inner');
		if (!d) return null;
		const card = document.getElementById('uppy').closest('section'), cs = getComputedStyle(card);
		return [d.getBoundingClientRect().width, card.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight)];
	})()`, &widths, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("Uppy's dashboard on the demo page: %v", err)
	}
	if math.Abs(widths[0]-widths[1]) > 2 {
		t.Errorf("Uppy's dashboard is %.0f px wide, its card's content %.0f px; want the same (±2 px)", widths[0], widths[1])
	}
	for i := 1; i <= demo.GalleryCount; i++ {
		if got := bucket.count("GET", "/demo/"+demo.GalleryKey(i)); got != 1 {
			t.Errorf("first load: the bucket served %s %d times, want once", demo.GalleryKey(i), got)
		}
	}
	bucket.reset()
	netlog.reset()
	// a second later: without stable, the URLs would now differ
	time.Sleep(1100 * time.Millisecond)
	if err := chromedp.Run(bctx,
		chromedp.Reload(),
		chromedp.Poll(allLoaded, &n, chromedp.WithPollingTimeout(20*time.Second)),
	); err != nil {
		t.Fatalf("reloading the demo page: %v", err)
	}
	if n != demo.GalleryCount {
		t.Errorf("after the reload: %d pictures loaded, want %d", n, demo.GalleryCount)
	}
	if got := bucket.total(); got != 0 {
		t.Errorf("the reload made %d requests to the bucket, want none (all from the browser's cache): %v", got, bucket.snapshot())
	}
	if fetched := netlog.fromNetwork("/gallery/", "/demo/gallery/"); len(fetched) > 0 {
		t.Errorf("the reload fetched over the network: %v; want every picture and redirect from the browser's cache\n%s", fetched, netlog.String())
	}

	// (a) the download button saves the private PDF under its own name
	dir := t.TempDir()
	if err := chromedp.Run(bctx,
		browser.SetDownloadBehavior(browser.SetDownloadBehaviorBehaviorAllow).WithDownloadPath(dir).WithEventsEnabled(true),
		chromedp.Click("#download", chromedp.ByQuery),
	); err != nil {
		t.Fatalf("clicking the download button: %v", err)
	}
	downloads.wait(t, demo.DownloadName)
	got, err := os.ReadFile(filepath.Join(dir, demo.DownloadName))
	if err != nil {
		entries, _ := os.ReadDir(dir)
		t.Fatalf("the downloaded file: %v (the download folder holds %v)", err, entries)
	}
	if !bytes.Equal(got, demo.ReportPDF()) {
		t.Errorf("downloaded %d bytes, not the report's %d", len(got), len(demo.ReportPDF()))
	}

	// (c) uploads: a text file and an SVG are refused by Caddy, as the page
	// asks for the form with the file's type, and the page says why; a
	// picture is stored, and shown through a presigned GET
	files := t.TempDir()
	notes := filepath.Join(files, "notes.txt")
	svg := filepath.Join(files, "logo.svg")
	if err := os.WriteFile(svg, scriptSVG("http://127.0.0.1:1/"), 0o644); err != nil {
		t.Fatal(err)
	}
	picture := filepath.Join(files, "Sonnenuntergang über dem Meer.png")
	pictureBytes := demo.GalleryPNG(1)
	if err := os.WriteFile(notes, []byte("not a picture\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(picture, pictureBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	submit := func(file string) (class, text string) {
		t.Helper()
		var res []string
		if err := chromedp.Run(bctx,
			chromedp.Evaluate(`document.getElementById('status').className = ''`, nil),
			chromedp.SetUploadFiles("#file", []string{file}, chromedp.ByQuery),
			chromedp.Click(`#upload button[type=submit]`, chromedp.ByQuery),
			chromedp.Poll(`(() => { const s = document.getElementById('status');
				return s.className ? [s.className, s.textContent] : null })()`, &res, chromedp.WithPollingTimeout(20*time.Second)),
		); err != nil {
			t.Fatalf("uploading %s through the form: %v", filepath.Base(file), err)
		}
		return res[0], res[1]
	}
	for file, typ := range map[string]string{notes: "text/plain", svg: "image/svg+xml"} {
		class, text := submit(file)
		if class != "error" || !strings.Contains(text, "Caddy refused the type "+typ+" (415)") {
			t.Errorf("uploading %s: the page says %s %q; want Caddy's refusal of its type", filepath.Base(file), class, text)
		}
		if s.Exists(t, demo.Bucket, demo.UploadPrefix+filepath.Base(file)) {
			t.Errorf("the refused %s was stored", filepath.Base(file))
		}
	}
	class, text := submit(picture)
	if class != "ok" {
		t.Fatalf("uploading a picture: the page says %s %q", class, text)
	}
	key := demo.UploadPrefix + filepath.Base(picture)
	if stored, err := s.Get(t, demo.Bucket, key); err != nil || !bytes.Equal(stored, pictureBytes) {
		t.Fatalf("the bucket holds %d bytes under %q (%v), want the %d uploaded", len(stored), key, err, len(pictureBytes))
	}
	if bucket.count("POST", "/demo/") != 1 {
		t.Errorf("the page posted %d forms to the bucket, want 1: %v", bucket.count("POST", "/demo/"), bucket.snapshot())
	}
	var shown int
	if err := chromedp.Run(bctx, chromedp.Poll(`(() => { const i = document.querySelector('#uploads img');
		return i && i.complete && i.naturalWidth > 0 ? i.naturalWidth : 0 })()`, &shown, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Errorf("the uploaded picture is not shown: %v", err)
	}

	var shot []byte
	if err := chromedp.Run(bctx, chromedp.FullScreenshot(&shot, 100)); err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	t.Logf("screenshot of the demo page: %s", saveScreenshot(t, shot, ""))

	// (d) browse: the Browse link lists the folder, a click on the
	// subfolder lists it, a click on a file downloads it
	var listed, footer, sub string
	var browseShot []byte
	if err := chromedp.Run(bctx,
		chromedp.Navigate(page+"/"),
		chromedp.Click("#browse", chromedp.ByQuery),
		chromedp.WaitVisible(`a[href="./`+demo.BrowseSubfolder+`"]`, chromedp.ByQuery),
		chromedp.Text("tbody", &listed, chromedp.ByQuery),
		chromedp.Text("footer", &footer, chromedp.ByQuery),
		chromedp.FullScreenshot(&browseShot, 100),
		chromedp.Click(`a[href="./`+demo.BrowseSubfolder+`"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`a[href="./`+demo.BrowseFile+`"]`, chromedp.ByQuery),
		chromedp.Location(&sub),
	); err != nil {
		t.Fatalf("browsing the demo folder: %v", err)
	}
	if !strings.Contains(listed, "file-01.txt") || !strings.Contains(listed, "file-12.txt") {
		t.Errorf("the listing of /browse/ shows %q, want file-01.txt to file-12.txt", listed)
	}
	t.Logf("screenshot of the browse page: %s", saveScreenshot(t, browseShot, "-browse"))
	if !strings.HasPrefix(footer, "1 folder, 12 files (") {
		t.Errorf("the footer of /browse/ reads %q, want 1 folder, 12 files", footer)
	}
	if sub != page+"/browse/"+demo.BrowseSubfolder {
		t.Errorf("the subfolder's page is %s", sub)
	}
	if err := chromedp.Run(bctx, chromedp.Click(`a[href="./`+demo.BrowseFile+`"]`, chromedp.ByQuery)); err != nil {
		t.Fatalf("clicking the file: %v", err)
	}
	downloads.wait(t, demo.BrowseFile)
	if got, err := os.ReadFile(filepath.Join(dir, demo.BrowseFile)); err != nil || !bytes.Equal(got, demo.BrowseBody(demo.BrowseFile)) {
		t.Errorf("the downloaded file: %q, %v; want %q", got, err, demo.BrowseBody(demo.BrowseFile))
	}
}

// saveScreenshot saves shot at PRESIGN_DEMO_SCREENSHOT (with suffix before
// its extension), or in a temporary folder, and returns its path.
func saveScreenshot(t *testing.T, shot []byte, suffix string) string {
	t.Helper()
	out := os.Getenv("PRESIGN_DEMO_SCREENSHOT")
	if out == "" {
		out = filepath.Join(t.TempDir(), "demo.png")
	}
	ext := filepath.Ext(out)
	out = strings.TrimSuffix(out, ext) + suffix + ext
	if err := os.WriteFile(out, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// countingProxy is a reverse proxy that counts the requests it passes on,
// by method and path.
type countingProxy struct {
	port string
	mu   sync.Mutex
	n    map[string]int
}

func newCountingProxy(t *testing.T, target string) *countingProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{n: make(map[string]int)}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(u)
		r.Out.Host = r.In.Host // the signatures cover the host the client used
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.n[r.Method+" "+r.URL.Path]++
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.port = strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
	return p
}

func (p *countingProxy) count(method, path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n[method+" "+path]
}

func (p *countingProxy) total() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.n {
		n += c
	}
	return n
}

func (p *countingProxy) snapshot() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := make(map[string]int, len(p.n))
	for k, v := range p.n {
		m[k] = v
	}
	return m
}

func (p *countingProxy) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.n)
}

// browserLog records the page's requests as DevTools reports them: the
// URL of each request and redirect hop, and whether its answer came from
// the browser's cache.
type browserLog struct {
	mu     sync.Mutex
	urls   map[network.RequestID][]string // the hops of each request
	cached map[string]bool                // URL -> answered from the cache
	seen   []string                       // URLs in order
}

func (l *browserLog) listen(ev any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.urls == nil {
		l.urls, l.cached = make(map[network.RequestID][]string), make(map[string]bool)
	}
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		if e.RedirectResponse != nil { // the previous hop's answer
			prev := e.RedirectResponse.URL
			l.cached[prev] = l.cached[prev] || e.RedirectResponse.FromDiskCache
		}
		l.urls[e.RequestID] = append(l.urls[e.RequestID], e.Request.URL)
		l.seen = append(l.seen, e.Request.URL)
		if _, ok := l.cached[e.Request.URL]; !ok {
			l.cached[e.Request.URL] = false
		}
	case *network.EventRequestServedFromCache:
		if hops := l.urls[e.RequestID]; len(hops) > 0 {
			l.cached[hops[len(hops)-1]] = true
		}
	case *network.EventResponseReceived:
		if e.Response.FromDiskCache || e.Response.FromPrefetchCache {
			l.cached[e.Response.URL] = true
		}
	}
}

// fromNetwork lists the recorded URLs whose path contains one of parts and
// whose answer did not come from the cache.
func (l *browserLog) fromNetwork(parts ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for u, cached := range l.cached {
		pu, _ := url.Parse(u)
		for _, p := range parts {
			if pu != nil && strings.HasPrefix(pu.Path, p) && !cached {
				out = append(out, pu.Path)
			}
		}
	}
	sort.Strings(out)
	return out
}

func (l *browserLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.urls, l.cached, l.seen = nil, nil, nil
}

func (l *browserLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, u := range l.seen {
		short := u
		if pu, _ := url.Parse(u); pu != nil {
			short = pu.Host + pu.Path
		}
		b.WriteString("  " + short + " cached=" + strconv.FormatBool(l.cached[u]) + "\n")
	}
	return b.String()
}

// downloadLog follows the browser's downloads.
type downloadLog struct {
	mu        sync.Mutex
	suggested string
	done      chan *browser.EventDownloadProgress
}

func (d *downloadLog) listen(ev any) {
	switch e := ev.(type) {
	case *browser.EventDownloadWillBegin:
		d.mu.Lock()
		d.suggested = e.SuggestedFilename
		d.mu.Unlock()
	case *browser.EventDownloadProgress:
		if e.State == browser.DownloadProgressStateCompleted || e.State == browser.DownloadProgressStateCanceled {
			select {
			case d.done <- e:
			default:
			}
		}
	}
}

// wait waits up to 20 s for the download under way to complete, and
// checks that the browser named it want.
func (d *downloadLog) wait(t *testing.T, want string) {
	t.Helper()
	select {
	case ev := <-d.done:
		if ev.State != browser.DownloadProgressStateCompleted {
			t.Fatalf("the download of %s ended %s", want, ev.State)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("the download of %s did not complete within 20s", want)
	}
	if got := d.name(); got != want {
		t.Errorf("the browser named the download %q, want %q", got, want)
	}
}

func (d *downloadLog) name() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.suggested
}
