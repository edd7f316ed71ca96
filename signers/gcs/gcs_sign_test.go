package gcs

import (
	"context"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddy-presign/presign/internal/gcsverify"
	"github.com/caddy-presign/presign/signers"
)

// TestGCSVerifierConformance: the verifier accepts Google's own V4 signed
// URLs (googleapis/conformance-tests, testdata) and rebuilds each case's
// canonical request byte for byte, for every case that signs the host
// header alone and whose URL goes to the host signed; with one signature
// character changed, or as another method, it refuses them.
func TestGCSVerifierConformance(t *testing.T) {
	pub := &newTestGCS(t, &GCS{Bucket: "my-bucket"}).key.PublicKey
	cases, _ := loadGCSCases(t)
	checked := 0
	for _, c := range cases {
		u, err := url.Parse(c.ExpectedURL)
		if err != nil {
			t.Fatal(err)
		}
		host := u.Host
		if u.Port() == "443" && u.Scheme == "https" {
			host = u.Hostname()
		}
		if len(c.Headers) > 0 || !strings.Contains(c.ExpectedCanonicalRequest, "\nhost:"+host+"\n") {
			continue // signs other headers, or a host the URL does not go to
		}
		checked++
		cr, err := gcsverify.URL(pub, c.Method, c.ExpectedURL, "")
		if err != nil || cr != c.ExpectedCanonicalRequest {
			t.Errorf("%s: %v; canonical request\n%s\nwant\n%s", c.Description, err, cr, c.ExpectedCanonicalRequest)
		}
		if _, err := gcsverify.URL(pub, c.Method, gcsverify.Tamper(c.ExpectedURL), ""); err == nil {
			t.Errorf("%s: a tampered URL verifies", c.Description)
		}
		other := "PUT"
		if c.Method == "PUT" {
			other = "GET"
		}
		if _, err := gcsverify.URL(pub, other, c.ExpectedURL, ""); err == nil {
			t.Errorf("%s: verifies as %s too", c.Description, other)
		}
	}
	if checked < 13 {
		t.Errorf("%d cases checked, want the 13 that sign the host alone", checked)
	}
}

// TestGCSSignedURLsVerify: every URL the profile signs (GET and HEAD with
// response overrides, PUT with content_type_prefix, path-style and
// virtual-hosted, for keys with spaces, unicode and reserved characters)
// verifies with the service account's public key over the canonical
// request, and the same URL with one signature character changed does
// not; a PUT's URL holds the Content-Type it was signed for, and no other;
// a GET's is no PUT's; a POST answers a V4 policy form that verifies
// (internal/gcsverify: signature, scope, lifetime, every field under a
// condition), whose conditions hold max_size and the type asked
// (eq $Content-Type), and that refuses a file over max_size and, tampered,
// any file. (The requests are the handler's for such rules; the
// root's TestGCSThroughHandler checks that it asks them.)
func TestGCSSignedURLsVerify(t *testing.T) {
	g := newTestGCS(t, &GCS{Bucket: "my-bucket"})
	v := newTestGCS(t, &GCS{Bucket: "my-bucket", URLStyle: "virtual_hosted"})
	pub := &g.key.PublicKey
	if g.DefaultExpires() != 15*time.Minute {
		t.Errorf("default expires %s, want 15m", g.DefaultExpires())
	}
	dl := &signers.Options{ContentDisposition: "attachment", ContentType: "text/plain"}
	up := &signers.Options{MaxSize: 10_000_000, ContentTypePrefix: signers.TypePrefixes{"image/"}}
	now := time.Now().UTC().Truncate(time.Second)
	sign := func(p *GCS, method, key, ct string, o *signers.Options) *signers.Signed {
		t.Helper()
		s, err := p.Sign(context.Background(), signers.Request{
			Method: method, Key: key, SignTime: now,
			Expires: p.DefaultExpires(), Options: o, ContentType: ct,
		})
		if err != nil {
			t.Fatalf("%s %q: %v", method, key, err)
		}
		return s
	}
	check := func(p *GCS, method, key, origin string, o *signers.Options) string {
		t.Helper()
		ct := ""
		if method == "PUT" { // content_type_prefix image/: signed
			ct = "image/png;  q=1"
		}
		loc := sign(p, method, key, ct, o).URL
		if !strings.HasPrefix(loc, origin) {
			t.Fatalf("%s %q: %q, want a URL under %s...", method, key, loc, origin)
		}
		if _, err := gcsverify.URL(pub, method, loc, ct); err != nil {
			t.Fatalf("%s %q: the URL does not verify: %v\n%s", method, key, err, loc)
		}
		if _, err := gcsverify.URL(pub, method, gcsverify.Tamper(loc), ct); err == nil {
			t.Fatalf("%s %q: a tampered URL verifies", method, key)
		}
		if ct != "" {
			if _, err := gcsverify.URL(pub, method, loc, "text/html"); err == nil {
				t.Fatalf("%s %q: the URL verifies with another Content-Type", method, key)
			}
			if _, err := gcsverify.URL(pub, method, loc, ""); err == nil {
				t.Fatalf("%s %q: the URL verifies without its Content-Type", method, key)
			}
		}
		if method == "GET" {
			if _, err := gcsverify.URL(pub, "PUT", loc, ""); err == nil {
				t.Fatalf("a GET URL verifies as a PUT")
			}
		}
		return loc
	}
	for _, key := range []string{"a.txt", "dir/a b+c.txt", "ünï/日本語 🎉.txt", "100%?#.bin"} {
		get := check(g, "GET", key, "https://storage.googleapis.com/my-bucket/", dl)
		for _, p := range []string{"response-content-disposition=", "response-content-type=text%2Fplain", "X-Goog-Expires=900"} {
			if !strings.Contains(get, p) {
				t.Errorf("GET %q: URL lacks %s: %s", key, p, get)
			}
		}
		check(g, "HEAD", key, "https://storage.googleapis.com/my-bucket/", dl)
		check(g, "PUT", key, "https://storage.googleapis.com/my-bucket/", up)
		check(v, "GET", key, "https://my-bucket.storage.googleapis.com/", &signers.Options{})
	}

	form := sign(g, "POST", "photos/cat.jpg", "image/jpeg", up)
	if form.URL != "https://storage.googleapis.com/my-bucket/" || form.Fields["key"] != "photos/cat.jpg" {
		t.Errorf("POST form %+v", form)
	}
	if err := gcsverify.VerifyPolicy(pub, g.email, "my-bucket", form.Fields, 1000, time.Now()); err != nil {
		t.Error(err)
	}
	raw, err := base64.StdEncoding.DecodeString(form.Fields["policy"])
	if err != nil {
		t.Fatal(err)
	}
	policy := string(raw)
	for _, want := range []string{`["content-length-range",0,10000000]`, `["eq","$Content-Type","image/jpeg"]`} {
		if !strings.Contains(policy, want) {
			t.Errorf("policy %s lacks %s", policy, want)
		}
	}
	if form.Fields["Content-Type"] != "image/jpeg" {
		t.Errorf("form's Content-Type field %q, want image/jpeg", form.Fields["Content-Type"])
	}
	if err := gcsverify.VerifyPolicy(pub, g.email, "my-bucket", form.Fields, 10000001, time.Now()); err == nil {
		t.Error("a file over max_size passes the policy")
	}
	form.Fields["policy"] = strings.Replace(form.Fields["policy"], "A", "B", 1)
	if err := gcsverify.VerifyPolicy(pub, g.email, "my-bucket", form.Fields, 1000, time.Now()); err == nil {
		t.Error("a tampered policy verifies")
	}
}
