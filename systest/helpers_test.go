package systest

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/caddy-presign/presign/systest/harness"
)

// site is one Caddyfile site on 127.0.0.1:port: body (a presign block, and
// whatever goes with it), then respond "next" 418 for every request that
// body passes on.
func site(port int, body string) string {
	return fmt.Sprintf("http://127.0.0.1:%d {\n\t%s\n\trespond \"next\" 418\n}\n", port, body)
}

// presignBlock is a presign block of the given profiles and rules.
func presignBlock(parts ...string) string {
	return "presign {\n\t\t" + strings.Join(parts, "\n\t\t") + "\n\t}"
}

// s3Site starts versitygw with an empty bucket, and Caddy in this process
// with one site: presign with a profile named after the bucket (with the
// server's root keys) and rules. It returns the server and the site's base
// URL.
func s3Site(t *testing.T, bucket, rules string) (*harness.S3, string) {
	t.Helper()
	s := harness.StartS3(t)
	s.CreateBucket(t, bucket)
	return s, loadSite(t, presignBlock(s.Profile(bucket, bucket), rules))
}

// loadSite runs Caddy in the test binary (harness.LoadCaddy) with one site
// around body, and returns its base URL, "http://127.0.0.1:PORT".
func loadSite(t *testing.T, body string, global ...string) string {
	t.Helper()
	port := harness.Port(t)
	harness.LoadCaddy(t, site(port, body), global...)
	return "http://127.0.0.1:" + strconv.Itoa(port)
}

// pathFor is the request path for a key under prefix, percent-encoded as a
// browser would send it.
func pathFor(prefix, key string) string {
	return (&url.URL{Path: prefix + key}).EscapedPath()
}

// password is the password of every basic_auth account of the tests.
const password = "pw"

// basicAuth is a Caddyfile basic_auth block for the paths matched by
// matcher, with an account for each user, all with password.
func basicAuth(t *testing.T, matcher string, users ...string) string {
	t.Helper()
	// cost 4: Caddy's own hash-password uses 14, a second per request
	hashed, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "basic_auth %s {\n", matcher)
	for _, u := range users {
		fmt.Fprintf(&b, "\t\t%s %s\n", u, hashed)
	}
	b.WriteString("\t}")
	return b.String()
}

// as sends a request as user, with password.
func as(user string) func(*http.Request) {
	return func(r *http.Request) { r.SetBasicAuth(user, password) }
}

// location is the Location of a redirect, failing the test unless the
// answer is the status want.
func location(t *testing.T, want int, method, u string, mods ...func(*http.Request)) string {
	t.Helper()
	code, hdr, body := harness.Fetch(t, method, u, nil, mods...)
	if code != want {
		t.Fatalf("%s %s: %d %q, want %d", method, u, code, body, want)
	}
	return hdr.Get("Location")
}
