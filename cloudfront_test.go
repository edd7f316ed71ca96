package presign

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-presign/presign/internal/cfverify"
)

// The CloudFront test key pair (test-only keys, see signers/cloudfront/testdata).
const (
	cfKeyID      = "K2JCJMDEHXQW5F"
	cfPrivateKey = "signers/cloudfront/testdata/cloudfront-rsa-pkcs1.pem"
	cfPublicKey  = "signers/cloudfront/testdata/cloudfront-rsa-public.pem"
	cfDist       = "d111111abcdef8.cloudfront.net"
)

// cfClock is the tests' fixed clock, 2026-01-01T00:00:00Z.
var cfClock = time.Unix(1767225600, 0)

// cfBotocoreCanned is botocore's CloudFrontSigner's canned URL for
// images/cat.jpg on the test distribution, signed with the test key for
// expiry 1767229200 (cfClock + 1h): see signers/cloudfront/cloudfront_test.go.
const cfBotocoreCanned = "https://d111111abcdef8.cloudfront.net/images/cat.jpg?Expires=1767229200&Signature=l61BkkEPGNIxmvnzgyKZucd03xa3hNh3HJIOmp9pLfAYSMdIzKbS9jjaZ5rgAp11dUNds-OJ2atjrq5fS1nWs5lL2ze-xz7yRZ4QU0dL7uJZ6n-RAqqWeH-qdFEqd4o-00VIYFd0n7UwZkprQX9sWHvlsHLb5P8jHJENDTpg7HA-haB7jOBuPVLboHSGD5mXlriWK2qxcjKOoZW9F0REh94YcA3YNUTj96cq4y4OyH4JDeqTlSKuVzyiJQoGAVCn019Sly1AMQALmJY13-4NJoWyq73liLJyQ6B5qR48O7WTMcOwtXkTGvAnVg750hbzbSnVzK9xmvACxrQN~pbyKw__&Key-Pair-Id=K2JCJMDEHXQW5F"

// cfRuleConfig is a presign block with the CloudFront profile "cdn" on
// cfDist and one rule on it: its path patterns, then its lines after
// "profile cdn".
func cfRuleConfig(t testing.TB, patterns string, lines ...string) string {
	t.Helper()
	return `presign {
		` + cfProfile(t, "cdn", cfDist) + `
		rule ` + patterns + ` {
			profile cdn
			` + strings.Join(lines, "\n\t\t\t") + `
		}
	}`
}

// cfProfile is a Caddyfile CloudFront profile block with the test key.
func cfProfile(t testing.TB, name, domain string, extra ...string) string {
	t.Helper()
	key, err := filepath.Abs(cfPrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	return `profile ` + name + ` cloudfront {
			domain ` + domain + `
			key_pair_id ` + cfKeyID + `
			private_key_file ` + key + `
			` + strings.Join(extra, "\n\t\t\t") + `
		}`
}

// cfParams are the raw query parameters of a signed URL.
func cfParams(t testing.TB, u string) map[string]string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatalf("%s: %v", u, err)
	}
	m := map[string]string{}
	for _, kv := range strings.Split(p.RawQuery, "&") {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// cfUnb64 undoes CloudFront's base64 ('-' '_' '~' for '+' '=' '/').
func cfUnb64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := cfverify.Decode(s)
	if err != nil {
		t.Fatalf("%q is not CloudFront base64: %v", s, err)
	}
	return b
}

// cfPolicy decodes and checks a custom policy and its signature with the
// test public key (the verifier of internal/cfverify), and returns the
// statement.
func cfPolicy(t testing.TB, policy, signature string) (resource string, epoch int64, sourceIP string) {
	t.Helper()
	pub, err := cfverify.LoadPublicKey(cfPublicKey)
	if err != nil {
		t.Fatal(err)
	}
	v := cfverify.Verifier{KeyID: cfKeyID, Pub: pub}
	raw, err := v.Policy(policy, signature)
	if raw == nil {
		t.Fatal(err)
	}
	if err != nil {
		t.Errorf("the policy's signature does not verify: %v", err)
	}
	var p struct {
		Statement []struct {
			Resource  string
			Condition struct {
				DateLessThan struct {
					Epoch int64 `json:"AWS:EpochTime"`
				}
				IpAddress *struct {
					SourceIp string `json:"AWS:SourceIp"`
				}
			}
		}
	}
	if err := json.Unmarshal(raw, &p); err != nil || len(p.Statement) != 1 {
		t.Fatalf("policy %s: %v", raw, err)
	}
	st := p.Statement[0]
	if st.Condition.IpAddress != nil {
		sourceIP = st.Condition.IpAddress.SourceIp
	}
	return st.Resource, st.Condition.DateLessThan.Epoch, sourceIP
}

// TestCloudFrontRedirect: a request to a CloudFront rule is answered 302
// with Cache-Control: no-store and a Location on the configured domain,
// byte-equal to botocore's canned URL; HEAD too; PUT is 405.
func TestCloudFrontRedirect(t *testing.T) {
	h := newHandler(t, cfRuleConfig(t, "/dl/*", "strip_prefix /dl"))
	at(h, cfClock)
	a := serve(t, h, "GET", "/dl/images/cat.jpg")
	if a.Code != http.StatusFound {
		t.Fatalf("status %d (%v), want 302", a.Code, a.Err)
	}
	if cc := a.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	if loc := a.Header.Get("Location"); loc != cfBotocoreCanned {
		t.Errorf("Location\n got %s\nwant %s", loc, cfBotocoreCanned)
	}
	if len(a.Header.Values("Set-Cookie")) != 0 {
		t.Errorf("cookies on a signed-URL answer")
	}
	if a := serve(t, h, "HEAD", "/dl/images/cat.jpg"); a.Code != http.StatusFound || a.Header.Get("Location") != cfBotocoreCanned {
		t.Errorf("HEAD: %d %s", a.Code, a.Header.Get("Location"))
	}
	if a := serve(t, h, "PUT", "/dl/images/cat.jpg"); a.Code != http.StatusMethodNotAllowed || a.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("PUT: %d, Allow %q", a.Code, a.Header.Get("Allow"))
	}

	// a domain with a path prefix goes before every key; keys with spaces
	// and unicode are escaped
	h = newHandler(t, `presign {
		`+cfProfile(t, "cdn", "https://cdn.example.com/media/", "expires 2h")+`
		rule /v/* {
			profile cdn
			strip_prefix /v
		}
	}`)
	at(h, cfClock)
	loc := serve(t, h, "GET", pathFor("/v/", "clips/ünï 1.mp4")).Header.Get("Location")
	if want := "https://cdn.example.com/media/clips/%C3%BCn%C3%AF%201.mp4?Expires=1767232800&Signature="; !strings.HasPrefix(loc, want) {
		t.Errorf("Location %s, want it to start with %s", loc, want)
	}
}

// TestCloudFrontBindClientIP: bind_client_ip puts the client IP Caddy
// determined (here the remote address; X-Forwarded-For from an untrusted
// peer is ignored) into a custom policy, /32 for IPv4 and /128 for IPv6.
func TestCloudFrontBindClientIP(t *testing.T) {
	h := newHandler(t, cfRuleConfig(t, "/dl/*", "strip_prefix /dl", "bind_client_ip"))
	at(h, cfClock)
	for remote, want := range map[string]string{
		"192.0.2.10:5555":          "192.0.2.10/32",
		"[2001:db8::5]:443":        "2001:db8::5/128",
		"[::ffff:198.51.100.7]:80": "198.51.100.7/32",
	} {
		a := serve(t, h, "GET", "/dl/reports/q1.pdf", func(r *http.Request) {
			r.RemoteAddr = remote
			r.Header.Set("X-Forwarded-For", "203.0.113.99")
		})
		if a.Code != http.StatusFound {
			t.Fatalf("%s: status %d (%v)", remote, a.Code, a.Err)
		}
		p := cfParams(t, a.Header.Get("Location"))
		if p["Expires"] != "" || p["Policy"] == "" || p["Key-Pair-Id"] != cfKeyID {
			t.Fatalf("%s: not a custom-policy URL: %s", remote, a.Header.Get("Location"))
		}
		resource, epoch, ip := cfPolicy(t, p["Policy"], p["Signature"])
		if ip != want {
			t.Errorf("%s: AWS:SourceIp %q, want %q", remote, ip, want)
		}
		if resource != "https://"+cfDist+"/reports/q1.pdf" || epoch != cfClock.Unix()+3600 {
			t.Errorf("%s: resource %q, expiry %d", remote, resource, epoch)
		}
	}
}

// TestCloudFrontCookies: cookies mode sets CloudFront-Policy,
// CloudFront-Signature and CloudFront-Key-Pair-Id (Secure, HttpOnly,
// SameSite=Lax, the Domain given) for the resource pattern with its
// placeholders expanded, and redirects to the unsigned URL.
func TestCloudFrontCookies(t *testing.T) {
	h := newHandler(t, `presign {
		`+cfProfile(t, "cdn", "cdn.example.com")+`
		rule /results/* {
			profile cdn
			resource https://{http.request.host}/results/experiment.zarr/*
			cookies example.com
		}
		rule /one/* {
			profile cdn
			strip_prefix /one
			cookies
		}
	}`)
	at(h, cfClock)
	a := serve(t, h, "GET", "https://cdn.example.com/results/experiment.zarr/.zattrs")
	if a.Code != http.StatusFound || a.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("status %d (%v), Cache-Control %q", a.Code, a.Err, a.Header.Get("Cache-Control"))
	}
	if loc := a.Header.Get("Location"); loc != "https://cdn.example.com/results/experiment.zarr/.zattrs" {
		t.Errorf("Location %s, want the unsigned URL", loc)
	}
	cookies := map[string]*http.Cookie{}
	for _, line := range a.Header.Values("Set-Cookie") {
		for _, attr := range []string{"Path=/", "Domain=example.com", "Secure", "HttpOnly", "SameSite=Lax", "Max-Age=3600", "Expires=Thu, 01 Jan 2026 01:00:00 GMT"} {
			if !strings.Contains(line, attr) {
				t.Errorf("Set-Cookie %q lacks %s", line, attr)
			}
		}
		c, err := http.ParseSetCookie(line)
		if err != nil {
			t.Fatalf("Set-Cookie %q: %v", line, err)
		}
		cookies[c.Name] = c
	}
	if len(cookies) != 3 || cookies["CloudFront-Policy"] == nil || cookies["CloudFront-Signature"] == nil || cookies["CloudFront-Key-Pair-Id"].Value != cfKeyID {
		t.Fatalf("cookies %v", a.Header.Values("Set-Cookie"))
	}
	resource, epoch, ip := cfPolicy(t, cookies["CloudFront-Policy"].Value, cookies["CloudFront-Signature"].Value)
	if resource != "https://cdn.example.com/results/experiment.zarr/*" || epoch != cfClock.Unix()+3600 || ip != "" {
		t.Errorf("policy: resource %q, expiry %d, IP %q", resource, epoch, ip)
	}

	// without resource: canned cookies for the one object, host-only
	a = serve(t, h, "GET", "/one/a.bin")
	names := []string{}
	for _, line := range a.Header.Values("Set-Cookie") {
		if strings.Contains(line, "Domain=") {
			t.Errorf("host-only cookie has a Domain: %s", line)
		}
		names = append(names, strings.SplitN(line, "=", 2)[0])
	}
	if got := strings.Join(names, " "); got != "CloudFront-Expires CloudFront-Signature CloudFront-Key-Pair-Id" {
		t.Errorf("canned cookies: %s", got)
	}
	if loc := a.Header.Get("Location"); loc != "https://cdn.example.com/a.bin" {
		t.Errorf("Location %s", loc)
	}
}

// TestCloudFrontResourcePlaceholders: placeholders in resource are
// expanded, their values escaped as the key is in the URL, so that a '*' or
// '?' in the request path is a literal character and cannot widen the
// policy to a whole tree.
func TestCloudFrontResourcePlaceholders(t *testing.T) {
	t.Setenv("CF_TEST_TREE", "https://cdn.example.com/shared/*")
	h := newHandler(t, `presign {
		`+cfProfile(t, "cdn", "cdn.example.com")+`
		rule /files/* {
			profile cdn
			resource https://cdn.example.com/{presign.path}
		}
		rule /shared/* {
			profile cdn
			resource {env.CF_TEST_TREE}
		}
	}`)
	at(h, cfClock)
	for key, want := range map[string]string{
		"*":              "https://cdn.example.com/files/%2A",
		"a/*":            "https://cdn.example.com/files/a/%2A",
		"a?b":            "https://cdn.example.com/files/a%3Fb",
		"ünï/x y.txt":    "https://cdn.example.com/files/%C3%BCn%C3%AF/x%20y.txt",
		"plain/file.txt": "https://cdn.example.com/files/plain/file.txt",
	} {
		a := serve(t, h, "GET", pathFor("/files/", key))
		if a.Code != http.StatusFound {
			t.Fatalf("%q: status %d (%v)", key, a.Code, a.Err)
		}
		loc := a.Header.Get("Location")
		p := cfParams(t, loc)
		resource, _, _ := cfPolicy(t, p["Policy"], p["Signature"])
		if resource != want {
			t.Errorf("%q: resource %q, want %q", key, resource, want)
		}
		if base := strings.SplitN(loc, "?", 2)[0]; base != want {
			t.Errorf("%q: the resource does not match the URL %s", key, base)
		}
	}
	p := cfParams(t, serve(t, h, "GET", "/shared/x").Header.Get("Location"))
	if resource, _, _ := cfPolicy(t, p["Policy"], p["Signature"]); resource != "https://cdn.example.com/shared/*" {
		t.Errorf("{env.*} resource %q: the operator's value is taken as it is", resource)
	}
}

// TestCloudFrontStable: with stable, two requests within a window get the
// same URL (the same policy, the same signature), the next window another.
func TestCloudFrontStable(t *testing.T) {
	h := newHandler(t, cfRuleConfig(t, "/img/*", "strip_prefix /img", "expires 10m", "stable 1m", "bind_client_ip"))
	start := cfClock
	ip := func(r *http.Request) { r.RemoteAddr = "192.0.2.1:1234" }
	at(h, start.Add(5*time.Second))
	a1 := serve(t, h, "GET", "/img/cat.jpg", ip)
	at(h, start.Add(50*time.Second))
	a2 := serve(t, h, "GET", "/img/cat.jpg", ip)
	at(h, start.Add(65*time.Second))
	a3 := serve(t, h, "GET", "/img/cat.jpg", ip)
	u1, u2, u3 := a1.Header.Get("Location"), a2.Header.Get("Location"), a3.Header.Get("Location")
	if u1 == "" || u1 != u2 {
		t.Errorf("one window, two URLs:\n%s\n%s", u1, u2)
	}
	if u3 == u1 {
		t.Errorf("the next window gave the same URL")
	}
	if cc := a2.Header.Get("Cache-Control"); cc != "private, max-age=10" {
		t.Errorf("Cache-Control %q, want private, max-age=10", cc)
	}
	p := cfParams(t, u1)
	if _, epoch, _ := cfPolicy(t, p["Policy"], p["Signature"]); epoch != start.Unix()+600 {
		t.Errorf("expiry %d, want the window's start + 10m = %d", epoch, start.Unix()+600)
	}
}

// TestCloudFrontRefusedAtStart: CloudFront configs that cannot work stop
// Caddy at start with an error that names the profile or rule, and never
// holds key material.
func TestCloudFrontRefusedAtStart(t *testing.T) {
	dir := t.TempDir()
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(ed)
	edPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	edFile := filepath.Join(dir, "ed25519.pem")
	if err := os.WriteFile(edFile, edPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	rsaPEM, err := os.ReadFile(cfPrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("CF_TEST_ED_KEY", string(edPEM))
	t.Setenv("CF_TEST_BROKEN_KEY", strings.Replace(string(rsaPEM), "\n", "\n!", 5))
	pub, _ := filepath.Abs(cfPublicKey)
	rule := func(extra ...string) string {
		return `
		rule /x/* {
			profile cf
			` + strings.Join(extra, "\n\t\t\t") + `
		}`
	}
	key, _ := filepath.Abs(cfPrivateKey)
	for _, c := range []struct {
		name, body string
		want       []string
	}{
		{"missing domain", `profile cf cloudfront {
			key_pair_id K1
			private_key_file ` + key + `
		}` + rule(), []string{`profile "cf"`, "domain is required"}},
		{"missing key_pair_id", `profile cf cloudfront {
			domain ` + cfDist + `
			private_key_file ` + key + `
		}` + rule(), []string{`profile "cf"`, "key_pair_id is required"}},
		{"missing key", `profile cf cloudfront {
			domain ` + cfDist + `
			key_pair_id K1
		}` + rule(), []string{`profile "cf"`, "private key is required"}},
		{"both keys", cfProfile(t, "cf", cfDist, "private_key {env.CF_TEST_ED_KEY}") + rule(), []string{`profile "cf"`, "exclude each other"}},
		{"PUT on CloudFront", cfProfile(t, "cf", cfDist) + rule("methods GET PUT"), []string{"rule 1 (/x/*)", `profile "cf"`, "CloudFront signs downloads only: GET, HEAD"}},
		{"POST on CloudFront", cfProfile(t, "cf", cfDist) + rule("methods POST"), []string{"rule 1 (/x/*)", "CloudFront signs downloads only"}},
		{"DELETE on CloudFront", cfProfile(t, "cf", cfDist) + rule("methods GET DELETE"), []string{"rule 1 (/x/*)", `profile "cf"`, "method DELETE: CloudFront signs downloads only: GET, HEAD"}},
		{"S3 option on CloudFront", cfProfile(t, "cf", cfDist) + rule("content_disposition attachment"), []string{"rule 1 (/x/*)", "content_disposition is an option of s3, azure, gcs and local profiles, not of cloudfront ones"}},
		{"S3 POST option on CloudFront", cfProfile(t, "cf", cfDist) + rule("max_size 10MB"), []string{"rule 1 (/x/*)", "max_size is an option of s3 and gcs profiles"}},
		{"cookie domain elsewhere", cfProfile(t, "cf", "cdn.example.com") + rule("cookies example.org"), []string{"rule 1 (/x/*)", "would not send these cookies"}},
		{"bad key file", `profile cf cloudfront {
			domain ` + cfDist + `
			key_pair_id K1
			private_key_file ` + filepath.Join(dir, "missing.pem") + `
		}` + rule(), []string{`profile "cf"`, "private_key_file", "cannot read"}},
		{"public key as key", `profile cf cloudfront {
			domain ` + cfDist + `
			key_pair_id K1
			private_key_file ` + pub + `
		}` + rule(), []string{`profile "cf"`, "public key, not the private key"}},
		{"wrong key type (file)", `profile cf cloudfront {
			domain ` + cfDist + `
			key_pair_id K1
			private_key_file ` + edFile + `
		}` + rule(), []string{`profile "cf"`, "Ed25519", "PKCS#1 or PKCS#8", "P-256"}},
		{"wrong key type (env)", `profile cf cloudfront {
			domain ` + cfDist + `
			key_pair_id K1
			private_key {env.CF_TEST_ED_KEY}
		}` + rule(), []string{`profile "cf"`, "private_key: an Ed25519 key cannot sign"}},
		{"broken key (env)", `profile cf cloudfront {
			domain ` + cfDist + `
			key_pair_id K1
			private_key {env.CF_TEST_BROKEN_KEY}
		}` + rule(), []string{`profile "cf"`, "private_key: not a PEM private key", "PKCS#1 or PKCS#8"}},
		{"unknown subdirective", cfProfile(t, "cf", cfDist, "bucket x") + rule(), []string{`profile "cf"`, `unknown subdirective "bucket" in cloudfront profile (domain, key_pair_id, private_key_file, private_key, expires)`}},
		{"unquoted inline PEM", `profile cf cloudfront {
			domain ` + cfDist + `
			key_pair_id K1
			private_key ` + strings.TrimSpace(string(rsaPEM)) + `
		}` + rule(), []string{`profile "cf"`, "private_key takes one argument"}},
		{"http domain", cfProfile(t, "cf", "http://cdn.example.com") + rule(), []string{`profile "cf"`, "https"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := validate(t, ":8080 {\n\tpresign {\n\t\t"+c.body+"\n\t}\n}\n")
			if err == nil {
				t.Fatalf("accepted; want an error with %q", c.want)
			}
			msg := err.Error()
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			if strings.Contains(msg, "PRIVATE KEY") || strings.Contains(msg, "-----") {
				t.Errorf("error holds a PEM header: %s", msg)
			}
			for _, k := range [][]byte{rsaPEM, edPEM} {
				body := strings.Join(strings.Split(strings.TrimSpace(string(k)), "\n")[1:], "")
				for i := 0; i+16 <= len(body); i += 8 {
					if chunk := body[i : i+16]; !strings.Contains(chunk, "-") && strings.Contains(msg, chunk) {
						t.Fatalf("error holds key material %q: %s", chunk, msg)
					}
				}
			}
		})
	}
}

// TestCloudFrontValidConfig: a complete CloudFront config passes `caddy
// validate`, with the {host} shorthand, cookies, bind_client_ip, stable and
// an inline key from the environment with its line breaks as \n.
func TestCloudFrontValidConfig(t *testing.T) {
	rsaPEM, err := os.ReadFile(cfPrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("CF_TEST_KEY", strings.ReplaceAll(strings.TrimSpace(string(rsaPEM)), "\n", `\n`))
	cfg := `cdn.example.com {
	presign {
		profile cdn cloudfront {
			domain https://cdn.example.com
			key_pair_id ` + cfKeyID + `
			private_key {env.CF_TEST_KEY}
			expires 12h
		}
		rule /results/* {
			profile cdn
			resource https://{host}/results/*
			cookies example.com
			stable 10m
		}
		rule /private/* {
			profile cdn
			bind_client_ip
			expires 5m
			status 303
		}
	}
}`
	if err := validate(t, cfg); err != nil {
		t.Fatalf("refused: %v", err)
	}
	// what it adapts to (the key stays a placeholder): testdata/cloudfront.caddyfiletest
}
