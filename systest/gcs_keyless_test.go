package systest

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-presign/presign/systest/harness"
)

// TestGCSKeyless: a Caddy process with a gcs profile that names its
// service account by email and holds no key takes its token from the
// tests' metadata server (GCE_METADATA_HOST) and signs through the tests'
// IAM Credentials server's signBlob. Its GET, PUT and POST form, and the
// store's own requests of browse and check_exists, are accepted by the
// tests' Cloud Storage (which verifies V4 signatures with the account's
// public key), and refused tampered. With signBlob answering 403 a new URL
// is 503 with Retry-After, and the cause is logged at error level; once
// signBlob signs again, 302, without restarting Caddy. The metrics count
// the calls.
func TestGCSKeyless(t *testing.T) {
	acct := harness.GCSTestAccount(t)
	s := harness.StartGCSServer(t, "media", acct)
	s.Put("docs/a.txt", []byte("alpha"))
	s.Put("docs/b.txt", []byte("beta"))
	iam := harness.StartIAM(t, acct)
	port := harness.Port(t)
	c := harness.StartCaddyEnv(t, harness.IAMEnv(iam), site(port, presignBlock(`profile media gcs {
			bucket media
			service_account `+iam.Email()+`
			endpoint `+s.URL+`
			iam_endpoint `+iam.IAM.URL+`
			iam_timeout 2s
		}`, `rule /dl/* {
			profile media
			strip_prefix /dl
			stable 1m
		}
		rule /up/* {
			profile media
			strip_prefix /up
			methods PUT POST
			max_size 1MB
		}
		rule /files/* {
			profile media
			strip_prefix /files
			browse
		}
		rule /chk/* {
			profile media
			strip_prefix /chk
			check_exists
		}`)), []int{port}, "metrics")
	base := "http://127.0.0.1:" + strconv.Itoa(port)

	// GET: the store serves the URL, and refuses it tampered
	loc := location(t, http.StatusFound, "GET", base+"/dl/docs/a.txt")
	if !strings.HasPrefix(loc, s.URL+"/media/docs/a.txt?") {
		t.Fatalf("GET redirects to %s, not to the store", loc)
	}
	if code, _, body := harness.Fetch(t, "GET", loc, nil); code != http.StatusOK || string(body) != "alpha" {
		t.Errorf("following GET: %d %q", code, body)
	}
	if code, _, _ := harness.Fetch(t, "GET", harness.TamperParam(t, loc, "X-Goog-Signature"), nil); code != http.StatusForbidden {
		t.Errorf("tampered GET: %d, want 403", code)
	}
	if again := location(t, http.StatusFound, "GET", base+"/dl/docs/a.txt"); again != loc {
		t.Error("stable: a second GET within the window got another URL")
	}

	// PUT
	loc = location(t, http.StatusTemporaryRedirect, "PUT", base+"/up/new.txt")
	if code, _, _ := harness.Fetch(t, "PUT", harness.TamperParam(t, loc, "X-Goog-Signature"), bytes.NewReader([]byte("x"))); code != http.StatusForbidden || s.Has("new.txt") {
		t.Errorf("tampered PUT: %d, want 403 and nothing stored", code)
	}
	if code, _, body := harness.Fetch(t, "PUT", loc, bytes.NewReader([]byte("new"))); code != http.StatusOK {
		t.Errorf("PUT: %d %s", code, body)
	}
	if data, _, ok := s.Object("new.txt"); !ok || string(data) != "new" {
		t.Errorf("PUT stored %q (%v)", data, ok)
	}

	// POST form
	f := formOf(t, base+"/up/form.txt")
	tampered := withFields(f, "policy", harness.TamperString(t, f.Fields["policy"]))
	if code, body := postToBucket(t, tampered, "", "form.txt", []byte("form")); code != http.StatusForbidden || s.Has("form.txt") {
		t.Errorf("tampered form: %d %s, want 403 and nothing stored", code, body)
	}
	if code, body := postToBucket(t, f, "", "form.txt", []byte("form")); code != http.StatusNoContent || !s.Has("form.txt") {
		t.Errorf("form: %d %s, want 204 and the file stored", code, body)
	}

	// browse and check_exists: the store's own requests, signed by signBlob
	items, _ := listJSON(t, base+"/files/docs/")
	if len(items) != 2 || items[0].Name != "a.txt" || items[1].Name != "b.txt" {
		t.Errorf("browse docs/: %+v", items)
	}
	loc = location(t, http.StatusFound, "GET", base+"/chk/docs/b.txt")
	if code, _, body := harness.Fetch(t, "GET", loc, nil); code != http.StatusOK || string(body) != "beta" {
		t.Errorf("check_exists, following: %d %q", code, body)
	}
	if code, _, _ := harness.Fetch(t, "GET", base+"/chk/docs/none.txt", nil); code != http.StatusNotFound {
		t.Errorf("check_exists, missing: %d, want 404", code)
	}
	if _, refused, unsigned := s.Counts(); refused != 3 || unsigned != 0 {
		t.Errorf("the store refused %d requests (%d unsigned); want the 3 tampered ones", refused, unsigned)
	}

	// signBlob refuses: 503 with Retry-After, logged; then back without a restart
	iam.Refuse(true)
	code, hdr, body := harness.Fetch(t, "GET", base+"/dl/docs/b.txt", nil)
	if code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" {
		t.Errorf("signBlob refused: %d %q, Retry-After %q; want 503 with one", code, body, hdr.Get("Retry-After"))
	}
	if code, _, _ := harness.Fetch(t, "GET", base+"/files/docs/", nil, acceptJSON); code != http.StatusServiceUnavailable {
		t.Errorf("browse, signBlob refused: %d, want 503", code)
	}
	log := c.LogText()
	if !strings.Contains(log, `"level":"error"`) || !strings.Contains(log, "PERMISSION_DENIED") {
		t.Errorf("no error in the log with signBlob's cause:\n%s", harness.Clipped(log, 3000))
	}
	iam.Refuse(false)
	time.Sleep(1500 * time.Millisecond) // the backoff
	loc = location(t, http.StatusFound, "GET", base+"/dl/docs/b.txt")
	if code, _, body := harness.Fetch(t, "GET", loc, nil); code != http.StatusOK || string(body) != "beta" {
		t.Errorf("signBlob back, following: %d %q", code, body)
	}
	ok := c.Metric(`caddy_presign_remote_signatures_total{outcome="ok",profile="media"}`)
	failed := c.Metric(`caddy_presign_remote_signatures_total{outcome="error",profile="media"}`)
	if ok != float64(iam.Signs()) || failed < 1 {
		t.Errorf("metrics: %v ok and %v error calls; signBlob signed %d", ok, failed, iam.Signs())
	}
}
