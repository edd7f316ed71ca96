package systest

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-presign/presign/systest/harness"
)

// Listings (browse) and existence checks (check_exists) of a gcs profile,
// through a Caddy process, against the tests' own Cloud Storage
// (harness.GCSServer), which verifies every request's V4 signature.

// TestGCSStore: 1,200 objects list in 2 pages, nothing lost or doubled,
// folders and files told apart with sizes; a listed file's link goes
// through the rule to a URL the store serves (and refuses tampered);
// hostile names are text in the HTML; each user lists their own prefix
// alone, and dot segments list nothing else; check_exists answers 302 for
// a present object and 404, through handle_errors, for a missing one.
// With the store stopped, browse and check_exists answer 502 or 503 within
// 15 s, never 404. Every request the store saw was signed.
func TestGCSStore(t *testing.T) {
	acct := harness.GCSTestAccount(t)
	s := harness.StartGCSServer(t, "media", acct)
	for _, k := range append(bigFolderKeys(1200),
		"users/alice/a.txt", "users/alice/docs/d.txt", "users/bob/secret-of-bob.txt", "top-level.txt", "here.txt") {
		s.Put(k, []byte(k))
	}
	port := harness.Port(t)
	harness.StartCaddy(t, site(port, basicAuth(t, "/home/*", "alice", "bob")+"\n\t"+presignBlock(`profile media gcs {
			bucket media
			service_account_file `+acct.File+`
			endpoint `+s.URL+`
			api_timeout 5s
		}`, `rule /files/* {
			profile media
			strip_prefix /files
			browse
		}
		rule /home/* {
			profile media
			strip_prefix /home
			key users/{http.auth.user.id}/{presign.path}
			browse
		}
		rule /dl/* {
			profile media
			strip_prefix /dl
			check_exists
		}`)+"\n\t"+errorsPage), []int{port})
	base := "http://127.0.0.1:" + strconv.Itoa(port)

	// 1,202 entries in 2 pages
	seen := map[string]int{}
	var dirs []string
	u, pages := base+"/files/big/", 0
	for u != "" {
		var items []browseItem
		items, u = listJSON(t, u)
		pages++
		for _, it := range items {
			seen[it.Name]++
			if it.IsDir {
				dirs = append(dirs, it.Name)
			} else if it.Size != int64(len("big/"+it.Name)) || it.ModTime.IsZero() {
				t.Errorf("object %+v: size or mod_time wrong", it)
			}
		}
	}
	if pages != 2 || len(seen) != 1202 {
		t.Errorf("%d pages and %d distinct entries, want 2 and 1202", pages, len(seen))
	}
	for n, c := range seen {
		if c != 1 {
			t.Errorf("%s listed %d times", n, c)
		}
	}
	if strings.Join(dirs, " ") != "sub1/ sub2/" {
		t.Errorf("folders %v, want sub1/ sub2/", dirs)
	}

	// a listed file's link: through the rule to a URL the store serves
	items, _ := listJSON(t, base+"/files/big/sub1/")
	if len(items) != 1 || items[0].Name != "inner.txt" || items[0].IsDir || items[0].Size != int64(len("big/sub1/inner.txt")) {
		t.Fatalf("sub1/: %+v", items)
	}
	loc := location(t, http.StatusFound, "GET", resolve(t, base+"/files/big/sub1/", items[0].URL))
	if !strings.HasPrefix(loc, s.URL+"/media/big/sub1/inner.txt?") {
		t.Errorf("the link redirects to %s, not to the store", loc)
	}
	if code, _, body := harness.Fetch(t, "GET", loc, nil); code != http.StatusOK || string(body) != "big/sub1/inner.txt" {
		t.Errorf("following the object's link: %d %q", code, body)
	}
	if code, _, _ := harness.Fetch(t, "GET", harness.TamperParam(t, loc, "X-Goog-Signature"), nil); code != http.StatusForbidden {
		t.Errorf("tampered: status %d, want 403", code)
	}

	// hostile names are text
	code, _, body := harness.Fetch(t, "GET", base+"/files/hostile/", nil)
	page := string(body)
	if code != http.StatusOK || strings.Contains(page, "<script>alert") || strings.Contains(page, "<img src=x") ||
		!strings.Contains(page, "&lt;img src=x onerror=alert(1)&gt;.txt") || !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/") {
		t.Errorf("hostile names not escaped (%d):\n%s", code, harness.Clipped(page, 2000))
	}

	// one user's listing is theirs alone; dot segments list nothing else
	checkPerUserListing(t, base, "/home/")

	// check_exists: 404 rendered by handle_errors, 302 to a URL that works
	code, _, body = harness.Fetch(t, "GET", base+"/dl/nothing.txt", nil)
	if code != http.StatusNotFound || string(body) != "site error page 404" {
		t.Errorf("missing: %d %q, want 404 from handle_errors", code, body)
	}
	loc = location(t, http.StatusFound, "GET", base+"/dl/here.txt")
	if code, _, got := harness.Fetch(t, "GET", loc, nil); code != http.StatusOK || string(got) != "here.txt" {
		t.Errorf("following: %d %q", code, got)
	}

	served, refused, unsigned := s.Counts()
	if unsigned != 0 || refused != 1 {
		t.Errorf("the store refused %d requests, %d of them unsigned; want only the tampered one", refused, unsigned)
	}
	if served < 8 {
		t.Errorf("the store served %d requests: Caddy did not ask it", served)
	}

	// the store stopped: an answer within 15 s, 502 or 503, never 404
	s.Stop()
	for _, c := range []struct{ what, target string }{{"browse", "/files/big/"}, {"check_exists", "/dl/other.txt"}} {
		start := time.Now()
		code, _, body := harness.Fetch(t, "GET", base+c.target, nil, acceptJSON)
		if code != http.StatusBadGateway && code != http.StatusServiceUnavailable || time.Since(start) > 15*time.Second {
			t.Errorf("%s, store stopped: %d %q after %s, want 502 or 503 within 15 s", c.what, code, body, time.Since(start))
		}
	}
}
