package systest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-presign/presign/systest/harness"
)

// Listings (browse) and existence checks (check_exists) through Caddy
// against versitygw.

// browseItem is an entry of a JSON listing.
type browseItem struct {
	Name    string    `json:"name"`
	Size    int64     `json:"size"`
	URL     string    `json:"url"`
	ModTime time.Time `json:"mod_time"`
	IsDir   bool      `json:"is_dir"`
}

func acceptJSON(r *http.Request) { r.Header.Set("Accept", "application/json") }

// listJSON fetches a JSON listing page and its next-page link, resolved.
func listJSON(t *testing.T, u string, mods ...func(*http.Request)) (items []browseItem, next string) {
	t.Helper()
	code, hdr, body := harness.Fetch(t, "GET", u, nil, append([]func(*http.Request){acceptJSON}, mods...)...)
	if code != http.StatusOK {
		t.Fatalf("GET %s: status %d %q, want 200", u, code, body)
	}
	if cc := hdr.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("GET %s: Cache-Control %q, want no-store", u, cc)
	}
	if err := json.Unmarshal(body, &items); err != nil {
		t.Fatalf("GET %s: %v in %q", u, err, harness.Clipped(string(body), 200))
	}
	if link := hdr.Get("Link"); link != "" {
		ref, ok := strings.CutPrefix(link, "<")
		ref, ok2 := strings.CutSuffix(ref, `>; rel="next"`)
		if !ok || !ok2 {
			t.Fatalf("Link %q is not one rel=next link", link)
		}
		next = resolve(t, u, ref)
	}
	return items, next
}

func resolve(t *testing.T, base, ref string) string {
	t.Helper()
	b, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	r, err := url.Parse(ref)
	if err != nil {
		t.Fatal(err)
	}
	return b.ResolveReference(r).String()
}

// putMany stores keys (with their key as body) with a few workers.
func putMany(t *testing.T, s *harness.S3, bucket string, keys []string) {
	t.Helper()
	putManyWith(keys, 16, func(k string) { s.Put(t, bucket, k, []byte(k), "text/plain") })
}

// putManyWith calls put for each of keys, with workers at once.
func putManyWith(keys []string, workers int, put func(key string)) {
	var wg sync.WaitGroup
	ch := make(chan string)
	for range workers {
		wg.Go(func() {
			for k := range ch {
				put(k)
			}
		})
	}
	for _, k := range keys {
		ch <- k
	}
	close(ch)
	wg.Wait()
}

// checkPages lists the folder at u page by page through the Link header,
// as a client would, and checks what any store's listing must be: pages of
// bigFolderKeys are the keys every store's browse test puts: n objects in
// big/, its two subfolders sub1/ and sub2/, and two hostile names in
// hostile/.
func bigFolderKeys(n int) []string {
	var keys []string
	for i := range n {
		keys = append(keys, fmt.Sprintf("big/obj-%04d.txt", i))
	}
	return append(keys, "big/sub1/inner.txt", "big/sub2/inner.txt",
		"hostile/<script>alert(1)</script>.txt", "hostile/<img src=x onerror=alert(1)>.txt")
}

// at most 1000 entries, wantPages of them, wantEntries distinct names each
// listed once, the folders (ending in "/", without size) dirs in order, and
// files with a mod_time whose size is the length of prefix+name (the bodies
// of putMany).
func checkPages(t *testing.T, u, prefix string, wantPages, wantEntries int, dirs string) {
	t.Helper()
	seen := map[string]int{}
	var gotDirs []string
	pages := 0
	for u != "" {
		var items []browseItem
		items, u = listJSON(t, u)
		pages++
		if len(items) > 1000 {
			t.Errorf("page %d holds %d entries, more than 1000", pages, len(items))
		}
		for _, it := range items {
			seen[it.Name]++
			if it.IsDir {
				gotDirs = append(gotDirs, it.Name)
				if it.Size != 0 || !strings.HasSuffix(it.Name, "/") {
					t.Errorf("folder %+v", it)
				}
			} else if it.Size != int64(len(prefix+it.Name)) || it.ModTime.IsZero() {
				t.Errorf("object %+v: size or mod_time wrong", it)
			}
		}
	}
	if pages != wantPages {
		t.Errorf("%d pages, want %d", pages, wantPages)
	}
	if len(seen) != wantEntries {
		t.Errorf("%d distinct entries, want %d", len(seen), wantEntries)
	}
	for n, c := range seen {
		if c != 1 {
			t.Errorf("%s listed %d times", n, c)
		}
	}
	if strings.Join(gotDirs, " ") != dirs {
		t.Errorf("folders %v, want %s", gotDirs, dirs)
	}
}

// checkHostileEscaped checks the HTML listing at u of the objects
// "<script>alert(1)</script>.txt" and "<img src=x onerror=alert(1)>.txt":
// their names are text, never markup.
func checkHostileEscaped(t *testing.T, u string) {
	t.Helper()
	code, _, body := harness.Fetch(t, "GET", u, nil)
	page := string(body)
	if code != http.StatusOK || strings.Contains(page, "<script>alert") || strings.Contains(page, "<img src=x") ||
		!strings.Contains(page, "&lt;img src=x onerror=alert(1)&gt;.txt") || !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/") {
		t.Errorf("hostile names not escaped (%d):\n%s", code, page)
	}
}

// TestBrowseListsPages: a folder of 2,500 objects and two subfolders lists
// in 3 pages through the Link header, nothing lost or doubled; folders and
// objects are told apart; every link goes back through the rule (a folder
// lists, an object redirects to a URL the store serves, and refuses
// tampered); the HTML page links the next page and escapes hostile names.
func TestBrowseListsPages(t *testing.T) {
	s, base := s3Site(t, "media", `rule /files/* {
			profile media
			strip_prefix /files
			browse
		}`)
	putMany(t, s, "media", bigFolderKeys(2500))

	checkPages(t, base+"/files/big/", "big/", 3, 2502, "sub1/ sub2/")

	// a folder's link lists it; an object's redirects to a URL that works
	items, _ := listJSON(t, resolve(t, base+"/files/big/", "./sub1/"))
	if len(items) != 1 || items[0].Name != "inner.txt" || items[0].IsDir {
		t.Fatalf("sub1/: %+v", items)
	}
	loc := location(t, http.StatusFound, "GET", resolve(t, base+"/files/big/sub1/", items[0].URL))
	if code, _, body := harness.Fetch(t, "GET", loc, nil); code != http.StatusOK || string(body) != "big/sub1/inner.txt" {
		t.Errorf("following the object's link: %d %q", code, body)
	}
	if code, _, _ := harness.Fetch(t, "GET", harness.Tamper(t, loc), nil); code != http.StatusForbidden {
		t.Errorf("tampered: status %d, want 403", code)
	}

	// HTML: the first page links the next; hostile names are text
	code, hdr, body := harness.Fetch(t, "GET", base+"/files/big/", nil)
	if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") || !strings.Contains(string(body), `rel="next" href="?continue=`) {
		t.Errorf("HTML page: %d %q, without a next link:\n%s", code, hdr.Get("Content-Type"), harness.Clipped(string(body), 2000))
	}
	checkHostileEscaped(t, base+"/files/hostile/")
}

// TestBrowseFormatCharacters: an object whose name starts with U+202E
// (RIGHT-TO-LEFT OVERRIDE, "gnp.exe" that a browser would show as
// "exe.png") and a folder holding a zero-width space are shown in the HTML
// listing with those characters as visible code points in a marked span,
// never raw; the JSON keeps the raw names; the object's link, followed as
// a browser would, downloads it from versitygw, and a tampered URL is
// refused.
func TestBrowseFormatCharacters(t *testing.T) {
	name := "\u202Egnp.exe"
	s, base := s3Site(t, "media", `rule /files/* {
			profile media
			strip_prefix /files
			browse
		}`)
	s.Put(t, "media", "bidi/"+name, []byte("the object behind the override"), "application/octet-stream")
	s.Put(t, "media", "bidi/zero\u200Bwidth/x.txt", []byte("x"), "text/plain")

	code, _, body := harness.Fetch(t, "GET", base+"/files/bidi/", nil)
	page := string(body)
	if code != http.StatusOK || strings.ContainsAny(page, "\u202E\u200B") {
		t.Fatalf("HTML listing: %d, or a format character shown raw:\n%s", code, page)
	}
	for _, want := range []string{
		`<span class="cf">\u202E</span>gnp.exe</a>`, `download="\u202Egnp.exe"`, `href="./%E2%80%AEgnp.exe"`,
		`zero<span class="cf">\u200B</span>width/</a>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the HTML listing lacks %s:\n%s", want, page)
		}
	}

	items, _ := listJSON(t, base+"/files/bidi/")
	urls := map[string]string{}
	for _, it := range items {
		urls[it.Name] = it.URL
	}
	if len(items) != 2 || urls[name] == "" || urls["zero\u200Bwidth/"] == "" {
		t.Fatalf("the JSON does not keep the raw names: %+v", items)
	}
	loc := location(t, http.StatusFound, "GET", resolve(t, base+"/files/bidi/", urls[name]))
	if code, _, got := harness.Fetch(t, "GET", loc, nil); code != http.StatusOK || string(got) != "the object behind the override" {
		t.Errorf("following the object's link: %d %q", code, got)
	}
	if code, _, _ := harness.Fetch(t, "GET", harness.Tamper(t, loc), nil); code != http.StatusForbidden {
		t.Errorf("tampered: status %d, want 403", code)
	}
}

// TestBrowsePerUser: with a per-user key template each user lists only
// their own prefix; dot segments, raw or percent-encoded, never list
// anything else.
func TestBrowsePerUser(t *testing.T) {
	s := harness.StartS3(t)
	s.CreateBucket(t, "home")
	base := loadSite(t, basicAuth(t, "/files/*", "alice", "bob")+"\n\t"+presignBlock(s.Profile("home", "home"), `rule /files/* {
			profile home
			strip_prefix /files
			key users/{http.auth.user.id}/{presign.path}
			browse
		}`))
	putMany(t, s, "home", []string{"users/alice/a.txt", "users/alice/docs/d.txt", "users/bob/secret-of-bob.txt", "top-level.txt"})
	checkPerUserListing(t, base, "/files/")
}

// checkPerUserListing checks a per-user browse rule at root (a path such
// as "/files/") over the objects users/alice/a.txt, users/alice/docs/d.txt,
// users/bob/secret-of-bob.txt and top-level.txt: alice lists her own
// prefix alone, bob his, and dot segments, raw or percent-encoded, list
// nothing.
func checkPerUserListing(t *testing.T, base, root string) {
	t.Helper()
	items, _ := listJSON(t, base+root, as("alice"))
	var names []string
	for _, it := range items {
		names = append(names, it.Name)
	}
	if strings.Join(names, " ") != "docs/ a.txt" {
		t.Errorf("alice lists %v, want docs/ a.txt", names)
	}
	items, _ = listJSON(t, base+root, as("bob"))
	if len(items) != 1 || items[0].Name != "secret-of-bob.txt" {
		t.Errorf("bob lists %+v", items)
	}

	addr := strings.TrimPrefix(base, "http://")
	auth := "Authorization: Basic " + basic("alice")
	for _, p := range []string{"../", "docs/../", "%2e%2e/", "docs/%2e%2e/", "%2E%2E/bob/", "docs/%2e%2e/%2e%2e/", "/"} {
		a := harness.RawRequest(t, addr, "GET "+root+p+" HTTP/1.1\n"+auth)
		b := string(a.Body)
		if a.Code == http.StatusOK || strings.Contains(b, "secret-of-bob") || strings.Contains(b, "top-level") || strings.Contains(b, "alice") {
			t.Errorf("%s: %d %q, want no listing", root+p, a.Code, harness.Clipped(b, 200))
		}
	}
}

func basic(user string) string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, password)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

// deadAPI is a profile line that sends the S3 API calls to a port where
// nothing listens, with a short deadline.
func deadAPI(t *testing.T) []string {
	return []string{"api_endpoint http://127.0.0.1:" + strconv.Itoa(harness.Port(t)), "api_timeout 2s"}
}

// errorsPage is a handle_errors block that renders the site's own page.
const errorsPage = `handle_errors {
		respond "site error page {err.status_code}" {err.status_code}
	}`

// TestCheckExists: a missing key is 404 rendered by handle_errors; an
// existing one is 302 to a URL that works (and refused tampered); an object
// uploaded after a cached 404 is found once the window has passed.
func TestCheckExists(t *testing.T) {
	s := harness.StartS3(t)
	s.CreateBucket(t, "media")
	base := loadSite(t, presignBlock(s.Profile("media", "media"), `rule /dl/* {
			profile media
			strip_prefix /dl
			check_exists 2s
		}`)+"\n\t"+errorsPage)
	s.Put(t, "media", "here.txt", []byte("here"), "text/plain")

	code, _, body := harness.Fetch(t, "GET", base+"/dl/nothing.txt", nil)
	if code != http.StatusNotFound || string(body) != "site error page 404" {
		t.Errorf("missing: %d %q, want 404 from handle_errors", code, body)
	}
	loc := location(t, http.StatusFound, "GET", base+"/dl/here.txt")
	if code, _, got := harness.Fetch(t, "GET", loc, nil); code != http.StatusOK || string(got) != "here" {
		t.Errorf("following: %d %q", code, got)
	}
	if code, _, _ := harness.Fetch(t, "GET", harness.Tamper(t, loc), nil); code != http.StatusForbidden {
		t.Errorf("tampered: status %d, want 403", code)
	}
	if code, _, _ := harness.Fetch(t, "HEAD", base+"/dl/nothing.txt", nil); code != http.StatusNotFound {
		t.Errorf("HEAD missing: status %d, want 404", code)
	}

	// the 404 is cached for the window, then the new object is found
	start := time.Now()
	if code, _, _ := harness.Fetch(t, "GET", base+"/dl/late.txt", nil); code != http.StatusNotFound {
		t.Fatalf("late.txt before its upload: status %d, want 404", code)
	}
	s.Put(t, "media", "late.txt", []byte("late"), "text/plain")
	if code, _, _ := harness.Fetch(t, "GET", base+"/dl/late.txt", nil); code != http.StatusNotFound && time.Since(start) < 2*time.Second {
		t.Errorf("late.txt within the window: status %d, want the cached 404", code)
	}
	time.Sleep(time.Until(start.Add(2100 * time.Millisecond)))
	loc = location(t, http.StatusFound, "GET", base+"/dl/late.txt")
	if code, _, got := harness.Fetch(t, "GET", loc, nil); code != http.StatusOK || string(got) != "late" {
		t.Errorf("late.txt after the window: %d %q", code, got)
	}
}

// TestStoreDown: a store that cannot be asked makes a listing 502 (or
// 503), not a page, and an existence check 502 (or 503), never a 404 that
// would read as absence. Caddy's error lines say why (connection refused)
// without the store's address, and the answers do not hold it either.
func TestStoreDown(t *testing.T) {
	s := harness.StartS3(t)
	s.CreateBucket(t, "media")
	dead := deadAPI(t)
	port := harness.Port(t)
	c := harness.LoadCaddy(t, site(port, presignBlock(s.Profile("media", "media", dead...), `rule /files/* {
			profile media
			strip_prefix /files
			browse
		}
		rule /dl/* {
			profile media
			strip_prefix /dl
			check_exists
		}`)+"\n\t"+errorsPage))
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	deadAddr := strings.TrimPrefix(strings.Fields(dead[0])[1], "http://")
	for _, w := range []struct{ what, target string }{{"browse", "/files/"}, {"check_exists", "/dl/any.txt"}} {
		code, hdr, body := harness.Fetch(t, "GET", base+w.target, nil, acceptJSON)
		if code != http.StatusBadGateway && code != http.StatusServiceUnavailable {
			t.Errorf("%s, store down: %d %q, want 502 or 503", w.what, code, body)
		}
		if strings.Contains(string(body), deadAddr) || strings.Contains(fmt.Sprint(hdr), deadAddr) {
			t.Errorf("%s, store down: the answer holds the store's address %s: %v %q", w.what, deadAddr, hdr, body)
		}
	}
	var errorLines int
	for _, line := range strings.Split(c.LogText(), "\n") {
		if !strings.Contains(line, `"level":"error"`) {
			continue
		}
		errorLines++
		if strings.Contains(line, deadAddr) {
			t.Errorf("an error line holds the store's address %s: %s", deadAddr, line)
		}
		if strings.Contains(line, `"msg":"store request failed"`) && !strings.Contains(line, "connection refused") {
			t.Errorf("the handler's error line does not say why (connection refused): %s", line)
		}
	}
	if errorLines == 0 {
		t.Error("no error line for the store down")
	}
}
