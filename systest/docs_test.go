package systest

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/caddy-presign/presign/systest/demo"
	"github.com/caddy-presign/presign/systest/harness"
)

// The manual's snippets, run as written against versitygw. A snippet is
// the fenced block of README.md or docs/*.md whose info string, after the
// language, holds "#name" (see the root's docs_test.go). The manual's sites
// (files.example.com, media.example.com, the quick start's
// 127.0.0.1:8081) become http://127.0.0.1:<a free port>, its `profile media
// s3 { … }` the test server's bucket, and its file paths under /srv the
// tests' own; nothing else of a snippet is changed.

// docSnippet is the body of the manual's block of language lang named
// name (without its "#") in file, a path from the repository's root.
func docSnippet(t *testing.T, file, lang, name string) string {
	t.Helper()
	b, err := os.ReadFile(harness.RepoPath(file))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?ms)^```" + regexp.QuoteMeta(lang) + "[^\n]* #" + regexp.QuoteMeta(name) + "(?: [^\n]*)?\n(.*?)^```")
	m := re.FindAllStringSubmatch(string(b), -1)
	if len(m) != 1 {
		t.Fatalf("%s: %d %s blocks named #%s, want one", file, len(m), lang, name)
	}
	return m[0][1]
}

// docSite turns a site of the manual into one on 127.0.0.1:port whose
// profile media is profile.
func docSite(t *testing.T, site string, port int, profile string) string {
	t.Helper()
	addr, rest, _ := strings.Cut(site, " {\n")
	if strings.ContainsAny(addr, "\n{") {
		t.Fatalf("not a site block: %q", site[:min(len(site), 60)])
	}
	site = "http://127.0.0.1:" + strconv.Itoa(port) + " {\n" + rest
	media := regexp.MustCompile(`(?s)profile media s3 \{( … \}|\n.*?\n\t\t\})`)
	if len(media.FindAllString(site, -1)) != 1 {
		t.Fatalf("no profile media s3 in the site %q", addr)
	}
	return media.ReplaceAllLiteralString(site, profile)
}

// runSnippet runs a shell snippet with bash (-e, -o pipefail) in dir, with
// the manual's site URL replaced by base, and returns its output. A failed
// command fails the test, with the snippet's output.
func runSnippet(t *testing.T, dir, snippet, site, base string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "-c", strings.ReplaceAll(snippet, site, base))
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("the snippet failed: %v\n--- snippet\n%s--- stdout\n%s--- stderr\n%s", err, snippet, out.String(), errOut.String())
	}
	return out.String()
}

// snippetTools looks up what the manual's shell snippets run.
func snippetTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range append([]string{"bash", "curl"}, tools...) {
		harness.LookTool(t, tool)
	}
}

// quickStartStore starts the store of the README's quick start as demo.sh
// does (versitygw with the seeded bucket demo, its keys in DEMO_ACCESS_KEY
// and DEMO_SECRET_KEY), and returns its address (127.0.0.1:PORT), a free
// port for the site, and the quick start's Caddyfile as written.
func quickStartStore(t *testing.T) (store, port, site string) {
	t.Helper()
	s := harness.StartS3(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if err := demo.Seed(ctx, s.Client, []string{"http://127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DEMO_ACCESS_KEY", s.AccessKey)
	t.Setenv("DEMO_SECRET_KEY", s.SecretKey)
	return strings.TrimPrefix(s.Endpoint, "http://"), strconv.Itoa(harness.Port(t)), docSnippet(t, "README.md", "caddyfile", "quickstart")
}

// TestDocsQuickStart: the README's quick start on the store demo.sh starts
// (a seeded bucket demo, keys in DEMO_ACCESS_KEY and DEMO_SECRET_KEY, which
// demo.sh writes to .demo/s3.env): its Caddyfile, with the demo's ports
// replaced by the test's, and its curl lines as written: the first prints
// the Location of a URL presigned on the store, the second saves the
// picture, byte for byte.
func TestDocsQuickStart(t *testing.T) {
	snippetTools(t)
	run := docSnippet(t, "README.md", "sh", "quickstart-run")
	demoSh, err := os.ReadFile(harness.RepoPath("demo.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(run, ". .demo/s3.env") || !strings.Contains(run, "./caddy run --config quickstart.Caddyfile") ||
		!regexp.MustCompile(`printf 'DEMO_ACCESS_KEY=%s\\nDEMO_SECRET_KEY=%s\\n' .*>"\$state/s3.env"`).Match(demoSh) {
		t.Fatalf("the quick start runs Caddy with the keys of .demo/s3.env, which demo.sh no longer writes as it reads them:\n%s", run)
	}
	store, port, site := quickStartStore(t)
	harness.LoadCaddy(t, strings.NewReplacer("127.0.0.1:8333", store, "127.0.0.1:8081", "127.0.0.1:"+port).Replace(site))

	dir := t.TempDir()
	out := runSnippet(t, dir, docSnippet(t, "README.md", "sh", "quickstart-curl"), "127.0.0.1:8081", "127.0.0.1:"+port)
	if want := "location: http://" + store + "/demo/gallery/1.png?x-amz-algorithm=aws4-hmac-sha256&"; !strings.Contains(strings.ToLower(out), want) {
		t.Errorf("the quick start's curl printed %q, want a Location %s…", out, want)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "1.png")); err != nil || !bytes.Equal(got, demo.GalleryPNG(1)) {
		t.Errorf("1.png: %d bytes (%v), want the bucket's gallery/1.png", len(got), err)
	}
}

// docsFilesSite starts versitygw with a bucket media, and Caddy with the
// site of docs/examples.md named site, its profile media on that bucket,
// extra applied to the site first. It returns the server and the site's
// base URL.
func docsFilesSite(t *testing.T, site string, extra func(string) string) (*harness.S3, string) {
	t.Helper()
	s := harness.StartS3(t)
	s.CreateBucket(t, "media")
	port := harness.Port(t)
	harness.LoadCaddy(t, docSite(t, extra(docSnippet(t, "docs/examples.md", "caddyfile", site)), port, s.Profile("media", "media")))
	return s, "http://127.0.0.1:" + strconv.Itoa(port)
}

// TestDocsPerUserUploads: docs/examples.md's per-user site, with its
// /upload/* rule added to its presign block, runs its snippets as
// written: alice's PUT, GET and DELETE of notes.txt under users/alice/;
// the PUT of a picture with its type; the POST form asked as alice with
// curl and jq, the picture posted straight to the bucket.
func TestDocsPerUserUploads(t *testing.T) {
	snippetTools(t, "jq")
	upload := docSnippet(t, "docs/examples.md", "caddyfile", "upload")
	s, base := docsFilesSite(t, "per-user", func(site string) string {
		return strings.Replace(site, "\tpresign {\n", "\tpresign {\n"+upload, 1)
	})
	const site = "https://files.example.com"
	dir := t.TempDir()
	notes := []byte("alice's notes, stored and read back\n")
	png := demo.GalleryPNG(2)
	for name, b := range map[string][]byte{"notes.txt": notes, "photo.png": png, "cat.png": demo.GalleryPNG(3)} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	if out := runSnippet(t, dir, docSnippet(t, "docs/examples.md", "sh", "per-user"), site, base); !strings.Contains(out, string(notes)) {
		t.Errorf("the per-user snippet printed %q, want the notes read back", out)
	}
	if s.Exists(t, "media", "users/alice/notes.txt") {
		t.Error("users/alice/notes.txt is still in the bucket after the snippet's DELETE")
	}

	runSnippet(t, dir, docSnippet(t, "docs/examples.md", "sh", "put"), site, base)
	if got, err := s.Get(t, "media", "users/alice/photo.png"); err != nil || !bytes.Equal(got, png) {
		t.Errorf("the PUT snippet: users/alice/photo.png is %d bytes (%v), want photo.png's %d", len(got), err, len(png))
	}

	if out := runSnippet(t, dir, docSnippet(t, "docs/examples.md", "sh", "post-form"), site, base); !strings.Contains(out, "stored") {
		t.Errorf("the POST form snippet printed %q, want stored", out)
	}
	if got, err := s.Get(t, "media", "incoming/alice/cat.png"); err != nil || !bytes.Equal(got, demo.GalleryPNG(3)) {
		t.Errorf("the POST form snippet: incoming/alice/cat.png is %d bytes (%v), want cat.png's", len(got), err)
	}
}

// TestDocsBrowseDelete: docs/examples.md's browse site lists alice's
// folder as JSON and answers "Nothing here." for a missing key, as its
// snippet says; its delete site, with the browse-delete.html template of
// the page, shows a delete button per file, and the delete snippet
// removes the object from the bucket.
func TestDocsBrowseDelete(t *testing.T) {
	snippetTools(t)
	const site = "https://files.example.com"
	dir := t.TempDir()
	s, base := docsFilesSite(t, "browse", func(site string) string { return site })
	s.Put(t, "media", "users/alice/notes.txt", []byte("hello world\n"), "text/plain")
	s.Put(t, "media", "users/alice/docs/a.txt", []byte("a"), "text/plain")
	s.Put(t, "media", "users/bob/secret.txt", []byte("bob's"), "text/plain")
	out := runSnippet(t, dir, docSnippet(t, "docs/examples.md", "sh", "browse"), site, base)
	for _, want := range []string{`"name":"docs/"`, `"url":"./docs/"`, `"name":"notes.txt","size":12`, "Nothing here."} {
		if !strings.Contains(out, want) {
			t.Errorf("the browse snippet printed %q, want %s in it", out, want)
		}
	}
	if strings.Contains(out, "secret.txt") {
		t.Errorf("alice's listing shows bob's file: %q", out)
	}

	template := filepath.Join(dir, "browse-delete.html")
	if err := os.WriteFile(template, []byte(docSnippet(t, "docs/examples.md", "html", "browse-delete")), 0o600); err != nil {
		t.Fatal(err)
	}
	s, base = docsFilesSite(t, "delete", func(site string) string {
		return strings.ReplaceAll(site, "/etc/caddy/browse-delete.html", template)
	})
	s.Put(t, "media", "users/alice/old.txt", []byte("old"), "text/plain")
	code, _, page := harness.Fetch(t, "GET", base+"/files/", nil, func(r *http.Request) { r.SetBasicAuth("alice", "wonderland") })
	if code != 200 || !strings.Contains(string(page), `<button data-href="./old.txt">delete</button>`) {
		t.Errorf("GET /files/ with the browse-delete template: %d %q, want a delete button for old.txt", code, page)
	}
	runSnippet(t, dir, docSnippet(t, "docs/examples.md", "sh", "delete"), site, base)
	if s.Exists(t, "media", "users/alice/old.txt") {
		t.Error("users/alice/old.txt is still in the bucket after the delete snippet")
	}
}

// uppyDocSite starts versitygw with a bucket media, and Caddy with
// docs/examples.md's Uppy site: its profile on that bucket, the bundle from
// .tools/npm, the page's folder root. It returns the server and the base URL.
func uppyDocSite(t *testing.T, root string) (*harness.S3, string) {
	t.Helper()
	dist := uppyDist(t)
	s := harness.StartS3(t)
	s.CreateBucket(t, "media")
	port := harness.Port(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	allowUppyCORS(t, s, "media", base)
	site := strings.NewReplacer("/srv/uppy/node_modules/uppy/dist", dist, "/srv/www", root).
		Replace(docSnippet(t, "docs/examples.md", "caddyfile", "uppy"))
	harness.LoadCaddy(t, docSite(t, site, port, s.Profile("media", "media")))
	return s, base
}

// TestDocsUppyCurl: docs/examples.md's curl script of Uppy's protocol, as
// written, against its Uppy site: it uploads big.mp4 in three parts of
// 5 MiB at most, and the object under uploads/alice/ is the file.
func TestDocsUppyCurl(t *testing.T) {
	snippetTools(t, "jq", "split", "awk")
	s, base := uppyDocSite(t, t.TempDir())
	dir := t.TempDir()
	big := generated(12_000_000)
	if err := os.WriteFile(filepath.Join(dir, "big.mp4"), big, 0o600); err != nil {
		t.Fatal(err)
	}
	out := runSnippet(t, dir, docSnippet(t, "docs/examples.md", "sh", "uppy-curl"), "https://media.example.com", base)
	if !strings.Contains(out, `"location"`) || strings.Count(out, `"PartNumber"`) != 3 {
		t.Errorf("the Uppy curl script printed %q, want the three parts listed and the completed upload's location", out)
	}
	key := findUploaded(t, s, "big.mp4")
	if !strings.HasPrefix(key, "uploads/alice/") {
		t.Errorf("the upload's key %q is not under uploads/alice/", key)
	}
	if got, err := s.Get(t, "media", key); err != nil || !bytes.Equal(got, big) {
		t.Errorf("%s: %d bytes (%v), want big.mp4's %d", key, len(got), err, len(big))
	}
}

// TestDocsUppyPage: docs/examples.md's Uppy page, served by its site, in
// headless Chromium logged in as alice: Uppy's Dashboard shows, and the
// page's Uppy uploads a small video through a POST form and, with
// multipart asked for, a 12 MB one in parts; both objects are the files.
func TestDocsUppyPage(t *testing.T) {
	harness.LookTool(t, harness.Chromium)
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "index.html"), []byte(docSnippet(t, "docs/examples.md", "html", "uppy-page")), 0o644); err != nil {
		t.Fatal(err)
	}
	s, base := uppyDocSite(t, root)

	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	bctx := harness.Browser(t, ctx)
	login := strings.Replace(base, "http://", "http://alice:wonderland@", 1) + "/"
	// the password, once, as a user types it when the browser asks; then
	// the page at its own URL (a page whose URL holds credentials cannot
	// fetch), the browser sending the password it keeps for the site
	var bundle string
	if err := chromedp.Run(bctx, chromedp.Navigate(login), chromedp.Navigate(base+"/"),
		chromedp.Evaluate(`typeof globalThis.Uppy`, &bundle)); err != nil {
		t.Fatal(err)
	}
	if bundle != "object" {
		t.Fatalf("the page did not load Uppy's bundle: globalThis.Uppy is %s", bundle)
	}
	if err := chromedp.Run(bctx, chromedp.WaitVisible(".uppy-Dashboard", chromedp.ByQuery)); err != nil {
		t.Fatalf("the page shows no Uppy Dashboard: %v", err)
	}
	for _, c := range []struct {
		name      string
		size      int
		multipart bool
	}{
		{"clip.mp4", 10_000, false},
		{"film.mp4", 12_000_000, true},
	} {
		js := `(async () => {
	uppy.clear();
	uppy.getPlugin('AwsS3').setOptions({ shouldUseMultipart: ` + strconv.FormatBool(c.multipart) + ` });
	const bytes = new Uint8Array(` + strconv.Itoa(c.size) + `);
	for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31) % 251;
	uppy.addFile({ name: ` + strconv.Quote(c.name) + `, type: 'video/mp4', data: new Blob([bytes], { type: 'video/mp4' }) });
	const r = await uppy.upload();
	return JSON.stringify({ ok: r.successful.length, failed: r.failed.map(f => String(f.error)) });
})()`
		var res string
		if err := chromedp.Run(bctx, chromedp.Evaluate(js, &res, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) })); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !strings.Contains(res, `"ok":1`) {
			t.Errorf("%s: Uppy's result %s, want one success", c.name, res)
			continue
		}
		key := findUploaded(t, s, c.name)
		if got, err := s.Get(t, "media", key); err != nil || !bytes.Equal(got, generated(c.size)) || !strings.HasPrefix(key, "uploads/alice/") {
			t.Errorf("%s: the object %q (%d bytes, %v) is not the file's %d bytes under uploads/alice/", c.name, key, len(got), err, c.size)
		}
	}
}

// TestDocsPathStyleMissing: docs/troubleshooting.md's 404 NoSuchBucket. The
// quick start's profile without path_style, on endpoint localhost, signs
// URLs that put the bucket in the host (demo.localhost), and versitygw
// answers them 404 NoSuchBucket, naming the key's first segment as the
// bucket; with path_style (the quick start as written, TestDocsQuickStart)
// the same request is the picture.
func TestDocsPathStyleMissing(t *testing.T) {
	trouble, err := os.ReadFile(harness.RepoPath("docs/troubleshooting.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(trouble), "404 `NoSuchBucket`") || !strings.Contains(string(trouble), "`path_style`") {
		t.Fatal("docs/troubleshooting.md no longer tells of 404 NoSuchBucket and path_style")
	}
	addr, port, site := quickStartStore(t)
	store := strings.TrimPrefix(addr, "127.0.0.1") // ":PORT"
	harness.LoadCaddy(t, strings.NewReplacer("http://127.0.0.1:8333", "http://localhost"+store, "127.0.0.1:8081", "127.0.0.1:"+port,
		"\t\t\tpath_style\n", "").Replace(site))

	_, hdr, _ := harness.Fetch(t, "GET", "http://127.0.0.1:"+port+"/dl/gallery/1.png", nil, func(r *http.Request) { r.SetBasicAuth("alice", "wonderland") })
	loc := hdr.Get("Location")
	host := "demo.localhost" + store
	if !strings.HasPrefix(loc, "http://"+host+"/gallery/1.png?") {
		t.Fatalf("without path_style: Location %q, want the bucket in the host, http://%s/gallery/1.png?…", loc, host)
	}
	code, _, body := harness.Fetch(t, "GET", strings.Replace(loc, host, "127.0.0.1"+store, 1), nil, func(r *http.Request) { r.Host = host })
	if code != 404 || !strings.Contains(string(body), "<Code>NoSuchBucket</Code>") || !strings.Contains(string(body), "<BucketName>gallery</BucketName>") {
		t.Errorf("the store's answer to %s: %d %s, want 404 NoSuchBucket for bucket gallery", loc, code, body)
	}
}

// TestDocsMetricsResetOnReload: docs/operations.md's "Metrics start again at
// zero": a Caddy process counts two answers of a rule; after `caddy reload`
// with a config that differs (one more rule), the rule's series is gone
// until it answers again, and then counts from one.
func TestDocsMetricsResetOnReload(t *testing.T) {
	ops, err := os.ReadFile(harness.RepoPath("docs/operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ops), "**Metrics start again at zero.**") {
		t.Fatal("docs/operations.md no longer says that a reload resets the metrics")
	}
	s := harness.StartS3(t)
	s.CreateBucket(t, "media")
	port := harness.Port(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	rule := "rule /dl/* {\n\t\t\tprofile media\n\t\t}"
	c := harness.StartCaddy(t, site(port, presignBlock(s.Profile("media", "media"), rule)), []int{port})
	const series = `caddy_presign_answers_total{method="GET",outcome="signed",profile="media",rule="/dl/*"}`
	get := func() {
		if code, _, _ := harness.Fetch(t, "GET", base+"/dl/a.txt", nil); code != 302 {
			t.Fatalf("GET /dl/a.txt: %d, want 302", code)
		}
	}
	get()
	get()
	if v := c.Metric(series); v != 2 {
		t.Fatalf("%s = %v before the reload, want 2", series, v)
	}
	c.Reload(site(port, presignBlock(s.Profile("media", "media"), rule, "rule /other/* {\n\t\t\tprofile media\n\t\t}")))
	if v, ok := harness.MetricValue(c.Metrics(), series); ok {
		t.Errorf("%s = %v right after the reload, want no series", series, v)
	}
	get()
	if v := c.Metric(series); v != 1 {
		t.Errorf("%s = %v after the reload and one answer, want 1", series, v)
	}
}
