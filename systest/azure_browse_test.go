package systest

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddy-presign/presign/systest/harness"
)

// Listings (browse) and existence checks (check_exists) through Caddy
// against Azurite: the Azure profile's Store.

// putManyAzure stores blobs (with their name as body) with a few workers.
func putManyAzure(t *testing.T, a *harness.Azurite, container string, keys []string) {
	t.Helper()
	putManyWith(keys, 8, func(k string) { a.Put(t, container, k, []byte(k), "text/plain") })
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
	putManyAzure(t, a, "media", bigFolderKeys(1200))

	checkPages(t, base+"/files/big/", "big/", 2, 1202, "sub1/ sub2/")

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
	checkHostileEscaped(t, base+"/files/hostile/")
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

	checkPerUserListing(t, base, "/files/")
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
