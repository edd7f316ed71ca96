package presign

import (
	"encoding/json"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/caddy-presign/presign/internal/gcsverify"
)

// TestGCSVerifierConformance: the verifier accepts Google's own V4 signed
// URLs (googleapis/conformance-tests, signers/gcs/testdata) and rebuilds
// each case's canonical request byte for byte, for every case that signs
// the host header alone and whose URL goes to the host signed; with one
// signature character changed, or as another method, it refuses them.
func TestGCSVerifierConformance(t *testing.T) {
	pub := gcsTestAccount(t).Public
	b, err := os.ReadFile("signers/gcs/testdata/v4_signatures.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Signing []struct {
			Description              string            `json:"description"`
			Method                   string            `json:"method"`
			ExpectedURL              string            `json:"expectedUrl"`
			Headers                  map[string]string `json:"headers"`
			ExpectedCanonicalRequest string            `json:"expectedCanonicalRequest"`
		} `json:"signingV4Tests"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, c := range f.Signing {
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
		if _, err := gcsverify.URL(pub, c.Method, tamperGoog(t, c.ExpectedURL), ""); err == nil {
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
