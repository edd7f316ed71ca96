package presign

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-presign/presign/internal/gcsverify"
)

// gcsTestAccountFile writes the V4 conformance tests' service account to
// a temporary file, and returns its path and public key.
func gcsTestAccountFile(t testing.TB) (string, *rsa.PublicKey) {
	t.Helper()
	a, err := gcsverify.WriteAccount("signers/gcs/testdata/service-account", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return a.File, a.Public
}

// TestGCSThroughHandler: every URL the GCS profile gives through the handler
// (GET and HEAD with overrides and stable, PUT, virtual-hosted) verifies
// with the service account's public key over the canonical request, and
// the same URL with one signature character changed does not; a stable
// hot key gets the same URL within its window; a POST answers a V4 policy
// form whose signature verifies and whose conditions hold max_size and
// the type asked with ?type= (eq $Content-Type).
func TestGCSThroughHandler(t *testing.T) {
	file, pub := gcsTestAccountFile(t)
	h := newHandler(t, `presign {
		profile g gcs {
			bucket my-bucket
			service_account_file `+file+`
		}
		profile v gcs {
			bucket my-bucket
			service_account_file `+file+`
			url_style virtual_hosted
		}
		rule /dl/* {
			profile g
			strip_prefix /dl
			content_disposition attachment
			content_type text/plain
			stable 1m
		}
		rule /up/* {
			profile g
			strip_prefix /up
			methods PUT POST
			max_size 10MB
			content_type_prefix image/
		}
		rule /v/* {
			profile v
			strip_prefix /v
		}
	}`)
	check := func(method, path, origin string) string {
		t.Helper()
		ct := ""
		if method == "PUT" { // content_type_prefix image/: signed
			ct = "image/png;  q=1"
		}
		a := serve(t, h, method, path, func(r *http.Request) {
			if ct != "" {
				r.Header.Set("Content-Type", ct)
			}
		})
		loc := a.Header.Get("Location")
		if a.Code/100 != 3 || !strings.HasPrefix(loc, origin) {
			t.Fatalf("%s %s: %d %q, want a redirect to %s...", method, path, a.Code, loc, origin)
		}
		if _, err := gcsverify.URL(pub, method, loc, ct); err != nil {
			t.Fatalf("%s %s: the URL does not verify: %v\n%s", method, path, err, loc)
		}
		if _, err := gcsverify.URL(pub, method, tamperGoog(t, loc), ct); err == nil {
			t.Fatalf("%s %s: a tampered URL verifies", method, path)
		}
		if ct != "" {
			if _, err := gcsverify.URL(pub, method, loc, "text/html"); err == nil {
				t.Fatalf("%s %s: the URL verifies with another Content-Type", method, path)
			}
			if _, err := gcsverify.URL(pub, method, loc, ""); err == nil {
				t.Fatalf("%s %s: the URL verifies without its Content-Type", method, path)
			}
			if a := serve(t, h, method, path, func(r *http.Request) { r.Header.Set("Content-Type", "text/html") }); a.Code != http.StatusUnsupportedMediaType {
				t.Fatalf("%s %s with text/html: %d, want 415", method, path, a.Code)
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
		get := check("GET", pathFor("/dl/", key), "https://storage.googleapis.com/my-bucket/")
		for _, p := range []string{"response-content-disposition=", "response-content-type=text%2Fplain", "X-Goog-Expires=900"} {
			if !strings.Contains(get, p) {
				t.Errorf("GET %q: URL lacks %s: %s", key, p, get)
			}
		}
		if again := check("GET", pathFor("/dl/", key), "https://storage.googleapis.com/"); again != get {
			t.Errorf("stable: a second GET within the window got another URL")
		}
		check("HEAD", pathFor("/dl/", key), "https://storage.googleapis.com/my-bucket/")
		check("PUT", pathFor("/up/", key), "https://storage.googleapis.com/my-bucket/")
		check("GET", pathFor("/v/", key), "https://my-bucket.storage.googleapis.com/")
	}
	if a := serve(t, h, "GET", "/dl/x"); !strings.HasPrefix(a.Header.Get("Cache-Control"), "private, max-age=") {
		t.Errorf("stable answer's Cache-Control %q", a.Header.Get("Cache-Control"))
	}

	a := serve(t, h, "POST", "/up/photos/cat.jpg?type=image/jpeg")
	var form struct {
		URL       string            `json:"url"`
		Fields    map[string]string `json:"fields"`
		ExpiresAt time.Time         `json:"expires_at"`
	}
	if err := json.Unmarshal([]byte(a.Body), &form); err != nil || a.Code != http.StatusOK {
		t.Fatalf("POST: %d %s (%v)", a.Code, a.Body, err)
	}
	if form.URL != "https://storage.googleapis.com/my-bucket/" || form.Fields["key"] != "photos/cat.jpg" {
		t.Errorf("POST form %+v", form)
	}
	if err := verifyGCSPolicy(pub, form.Fields); err != nil {
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
	form.Fields["policy"] = strings.Replace(form.Fields["policy"], "A", "B", 1)
	if err := verifyGCSPolicy(pub, form.Fields); err == nil {
		t.Error("a tampered policy verifies")
	}
}

// tamperGoog changes one character of the URL's X-Goog-Signature.
func tamperGoog(t *testing.T, u string) string {
	t.Helper()
	i := strings.Index(u, "X-Goog-Signature=")
	if i < 0 {
		t.Fatalf("no X-Goog-Signature in %s", u)
	}
	i += len("X-Goog-Signature=") + 7
	c := byte('0')
	if u[i] == '0' {
		c = '1'
	}
	return u[:i] + string(c) + u[i+1:]
}

// azuriteKey is the well-known key of Azurite's development account
// devstoreaccount1, documented by Microsoft for the emulator only.
const azuriteKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

// TestCloudKindsRefusedAtStart: options an Azure or GCS profile cannot
// serve, and profiles that cannot sign, stop Caddy at start with an error
// that names the rule or profile and says why, and never shows a secret.
func TestCloudKindsRefusedAtStart(t *testing.T) {
	file, _ := gcsTestAccountFile(t)
	userCreds := filepath.Join(t.TempDir(), "adc.json")
	if err := os.WriteFile(userCreds, []byte(`{"type":"authorized_user","client_id":"x","client_secret":"s3cr3t-value","refresh_token":"r"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", userCreds)
	az := `profile az azure {
			account devstoreaccount1
			container media
			account_key ` + azuriteKey + `
		}
		`
	g := `profile g gcs {
			bucket my-bucket
			service_account_file ` + file + `
		}
		`
	for _, c := range []struct{ name, block, want string }{
		{"azure POST", az + `rule /x/* {
			profile az
			methods POST
		}`, `rule 1 (/x/*): profile "az": method POST: Azure Blob Storage has no browser upload form`},
		{"azure max_size", az + `rule /x/* {
			profile az
			methods PUT
			max_size 1MB
		}`, `rule 1 (/x/*): profile "az": max_size is an option of s3 and gcs profiles, not of azure ones`},
		{"azure cookies", az + `rule /x/* {
			profile az
			cookies
		}`, `rule 1 (/x/*): profile "az": cookies is an option of cloudfront profiles, not of azure ones`},
		{"azure disposition on PUT", az + `rule /x/* {
			profile az
			methods PUT
			content_disposition attachment
		}`, `rule 1 (/x/*): profile "az": content_disposition, content_type and cache_control shape downloads`},
		{"azure delegation key's limit", `profile az azure {
			account devstoreaccount1
			container media
		}
		rule /x/* {
			profile az
			expires 8d
		}`, `rule 1 (/x/*): profile "az": expires 192h0m0s is over profile "az"'s limit of 168h0m0s`},
		{"azure bad key", `profile az azure {
			account devstoreaccount1
			container media
			account_key not*base64
		}
		rule /x/* {
			profile az
		}`, `account_key is not a storage account key`},
		{"azure bad account", `profile az azure {
			account Bad_Name
			container media
			account_key ` + azuriteKey + `
		}
		rule /x/* {
			profile az
		}`, `account "Bad_Name" must be a storage account name`},
		{"gcs cache_control", g + `rule /x/* {
			profile g
			cache_control no-cache
		}`, `rule 1 (/x/*): profile "g": cache_control is an option of s3 and azure profiles, not of gcs ones`},
		{"gcs resource", g + `rule /x/* {
			profile g
			resource https://x/*
		}`, `rule 1 (/x/*): profile "g": resource is an option of cloudfront and local profiles, not of gcs ones`},
		{"gcs expires", g + `rule /x/* {
			profile g
			expires 8d
		}`, `rule 1 (/x/*): profile "g": expires 192h0m0s is over profile "g"'s limit of 168h0m0s`},
		{"gcs without a key", `profile g gcs {
			bucket my-bucket
		}
		rule /x/* {
			profile g
		}`, `credentials of type "authorized_user" hold no private key; signing needs a service-account key`},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, err := parseBlock("presign {\n" + c.block + "\n}")
			if err == nil {
				_, err = provisionJSON(t, mustJSON(t, h))
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			for _, secret := range []string{azuriteKey, "not*base64", "s3cr3t-value", "PRIVATE KEY"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error shows a secret: %v", err)
				}
			}
		})
	}
}
