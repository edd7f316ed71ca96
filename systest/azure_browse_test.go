package systest

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-presign/presign/systest/harness"
)

// Listings (browse) and existence checks (check_exists) through Caddy
// against Azurite: the Azure profile's Store.

// putManyAzure stores blobs (with their name as body) with a few workers.
func putManyAzure(t *testing.T, a *harness.Azurite, container string, keys []string) {
	t.Helper()
	var wg sync.WaitGroup
	ch := make(chan string)
	for range 8 {
		wg.Go(func() {
			for k := range ch {
				a.Put(t, container, k, []byte(k), "text/plain")
			}
		})
	}
	for _, k := range keys {
		ch <- k
	}
	close(ch)
	wg.Wait()
}

// TestAzureBrowseListsPages: a folder of 1,200 blobs and two subfolders
// lists in 2 pages through the Link header, nothing lost or doubled;
// folders and files are told apart, files with their sizes; a folder's
// link lists it, a file's link goes through the rule to a SAS that Azurite
// accepts (and refuses tampered); the HTML page escapes hostile names.
func TestAzureBrowseListsPages(t *testing.T) {
	a := harness.StartAzurite(t, harness.AzuriteOptions{})
	a.CreateContainer(t, "media")
	base := loadSite(t, presignBlock(azureProfile(a), `rule /files/* {
			profile az
			strip_prefix /files
			browse
		}`))
	var keys []string
	for i := range 1200 {
		keys = append(keys, fmt.Sprintf("big/obj-%04d.txt", i))
	}
	keys = append(keys, "big/sub1/inner.txt", "big/sub2/inner.txt",
		"hostile/<script>alert(1)</script>.txt", "hostile/<img src=x onerror=alert(1)>.txt")
	putManyAzure(t, a, "media", keys)

	seen := map[string]int{}
	var dirs []string
	u, pages := base+"/files/big/", 0
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
				dirs = append(dirs, it.Name)
				if it.Size != 0 || !strings.HasSuffix(it.Name, "/") {
					t.Errorf("folder %+v", it)
				}
			} else if it.Size != int64(len("big/"+it.Name)) || it.ModTime.IsZero() {
				t.Errorf("file %+v: size or mod_time wrong", it)
			}
		}
	}
	if pages != 2 {
		t.Errorf("%d pages, want 2", pages)
	}
	if len(seen) != 1202 {
		t.Errorf("%d distinct entries, want 1202", len(seen))
	}
	for n, c := range seen {
		if c != 1 {
			t.Errorf("%s listed %d times", n, c)
		}
	}
	if strings.Join(dirs, " ") != "sub1/ sub2/" {
		t.Errorf("folders %v, want sub1/ sub2/", dirs)
	}

	items, _ := listJSON(t, resolve(t, base+"/files/big/", "./sub1/"))
	if len(items) != 1 || items[0].Name != "inner.txt" || items[0].IsDir {
		t.Fatalf("sub1/: %+v", items)
	}
	loc := location(t, http.StatusFound, "GET", resolve(t, base+"/files/big/sub1/", items[0].URL))
	if !strings.HasPrefix(loc, a.Endpoint+"/media/big/sub1/inner.txt?") {
		t.Fatalf("the file's link redirects to %s", loc)
	}
	if code, _, body := fetchAzure(t, a, "GET", loc, ""); code != http.StatusOK || body != "big/sub1/inner.txt" {
		t.Errorf("following the file's link: %d %q", code, body)
	}
	if code, _, _ := fetchAzure(t, a, "GET", harness.TamperParam(t, loc, "sig"), ""); code != http.StatusForbidden {
		t.Errorf("tampered: status %d, want 403", code)
	}

	code, hdr, body := harness.Fetch(t, "GET", base+"/files/big/", nil)
	if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") || !strings.Contains(string(body), `rel="next" href="?continue=`) {
		t.Errorf("HTML page: %d %q, without a next link:\n%s", code, hdr.Get("Content-Type"), harness.Clipped(string(body), 2000))
	}
	code, _, body = harness.Fetch(t, "GET", base+"/files/hostile/", nil)
	page := string(body)
	if code != http.StatusOK || strings.Contains(page, "<script>alert") || strings.Contains(page, "<img src=x") ||
		!strings.Contains(page, "&lt;img src=x onerror=alert(1)&gt;.txt") || !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/") {
		t.Errorf("hostile names not escaped (%d):\n%s", code, page)
	}
}

// TestAzureBrowsePerUser: with a per-user key template each user lists
// only their own prefix; dot segments, raw or percent-encoded, never list
// anything else.
func TestAzureBrowsePerUser(t *testing.T) {
	a := harness.StartAzurite(t, harness.AzuriteOptions{})
	a.CreateContainer(t, "media")
	base := loadSite(t, basicAuth(t, "/files/*", "alice", "bob")+"\n\t"+presignBlock(azureProfile(a), `rule /files/* {
			profile az
			strip_prefix /files
			key users/{http.auth.user.id}/{presign.path}
			browse
		}`))
	putManyAzure(t, a, "media", []string{"users/alice/a.txt", "users/alice/docs/d.txt", "users/bob/secret-of-bob.txt", "top-level.txt"})

	items, _ := listJSON(t, base+"/files/", as("alice"))
	var names []string
	for _, it := range items {
		names = append(names, it.Name)
	}
	if strings.Join(names, " ") != "docs/ a.txt" {
		t.Errorf("alice lists %v, want docs/ a.txt", names)
	}
	items, _ = listJSON(t, base+"/files/", as("bob"))
	if len(items) != 1 || items[0].Name != "secret-of-bob.txt" {
		t.Errorf("bob lists %+v", items)
	}

	addr := strings.TrimPrefix(base, "http://")
	auth := "Authorization: Basic " + basic("alice")
	for _, p := range []string{"/files/../", "/files/docs/../", "/files/%2e%2e/", "/files/docs/%2e%2e/", "/files/%2E%2E/bob/", "/files/docs/%2e%2e/%2e%2e/", "/files//"} {
		r := harness.RawRequest(t, addr, "GET "+p+" HTTP/1.1\n"+auth)
		b := string(r.Body)
		if r.Code == http.StatusOK || strings.Contains(b, "secret-of-bob") || strings.Contains(b, "top-level") || strings.Contains(b, "alice") {
			t.Errorf("%s: %d %q, want no listing", p, r.Code, harness.Clipped(b, 200))
		}
	}
}

// TestAzureCheckExistsAndDown: check_exists answers 302 to a SAS Azurite
// serves for a present blob and 404 rendered by handle_errors for a
// missing one; with Azurite stopped (and the window of the cached answers
// past), browse and check_exists answer 502 or 503 within 15 s, never 404
// nor a page.
func TestAzureCheckExistsAndDown(t *testing.T) {
	a := harness.StartAzurite(t, harness.AzuriteOptions{})
	a.CreateContainer(t, "media")
	a.Put(t, "media", "here.txt", []byte("here"), "text/plain")
	base := loadSite(t, presignBlock(strings.Replace(azureProfile(a), "\n\t\t}", "\n\t\t\tapi_timeout 5s\n\t\t}", 1), `rule /files/* {
			profile az
			strip_prefix /files
			browse
		}
		rule /dl/* {
			profile az
			strip_prefix /dl
			check_exists 1s
		}`)+"\n\t"+errorsPage)

	code, _, body := harness.Fetch(t, "GET", base+"/dl/nothing.txt", nil)
	if code != http.StatusNotFound || string(body) != "site error page 404" {
		t.Errorf("missing: %d %q, want 404 from handle_errors", code, body)
	}
	if code, _, _ := harness.Fetch(t, "HEAD", base+"/dl/nothing.txt", nil); code != http.StatusNotFound {
		t.Errorf("HEAD missing: status %d, want 404", code)
	}
	loc := location(t, http.StatusFound, "GET", base+"/dl/here.txt")
	if code, _, got := fetchAzure(t, a, "GET", loc, ""); code != http.StatusOK || got != "here" {
		t.Errorf("following: %d %q", code, got)
	}
	if items, _ := listJSON(t, base+"/files/"); len(items) != 1 || items[0].Name != "here.txt" {
		t.Errorf("listing with Azurite up: %+v", items)
	}

	a.Stop()
	time.Sleep(1100 * time.Millisecond) // past check_exists's window: no cached answer
	for _, c := range []struct{ what, target string }{
		{"browse", "/files/"}, {"check_exists, present", "/dl/here.txt"}, {"check_exists, missing", "/dl/other.txt"},
	} {
		start := time.Now()
		code, _, body := harness.Fetch(t, "GET", base+c.target, nil, acceptJSON)
		if took := time.Since(start); took > 15*time.Second {
			t.Errorf("%s, Azurite stopped: answered in %s, want within 15s", c.what, took)
		}
		if code != http.StatusBadGateway && code != http.StatusServiceUnavailable {
			t.Errorf("%s, Azurite stopped: %d %q, want 502 or 503", c.what, code, body)
		}
	}
}
