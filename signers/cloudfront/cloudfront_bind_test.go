package cloudfront

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-presign/presign/internal/cfverify"
	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/escape"
)

// bindRequest is a client's request as Caddy prepares it for handlers:
// with its replacer and client IP (the remote address, as no proxy is
// trusted).
func bindRequest(target, remote string, header http.Header) *http.Request {
	r := httptest.NewRequest("GET", target, nil)
	r.RemoteAddr = remote
	for k, v := range header {
		r.Header[k] = v
	}
	return caddyhttp.PrepareRequest(r, caddy.NewReplacer(), httptest.NewRecorder(), nil)
}

// policyOf verifies a custom policy's signature with the test key and
// returns its one statement's resource, expiry and source IP.
func policyOf(t testing.TB, policy, signature string) (resource string, epoch int64, sourceIP string) {
	t.Helper()
	v := cfverify.Verifier{KeyID: cfTestKeyID, Pub: loadPublicKey(t, cfRSAPublic)}
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

// queryOf is the raw query parameters of a signed URL.
func queryOf(u string) map[string]string {
	m := map[string]string{}
	_, q, _ := strings.Cut(u, "?")
	for _, kv := range strings.Split(q, "&") {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// TestCloudFrontBindClientIP: bind_client_ip binds the client IP Caddy
// determined (the remote address; X-Forwarded-For from an untrusted peer
// is ignored) into a custom policy, /32 for IPv4 and /128 for IPv6, for
// the object's URL and the request's expiry.
func TestCloudFrontBindClientIP(t *testing.T) {
	cf := newCloudFront(t, nil)
	o := &signers.Options{BindClientIP: true}
	if !cf.Binds(o) {
		t.Fatal("bind_client_ip does not bind")
	}
	for remote, want := range map[string]string{
		"192.0.2.10:5555":          "192.0.2.10/32",
		"[2001:db8::5]:443":        "2001:db8::5/128",
		"[::ffff:198.51.100.7]:80": "198.51.100.7/32",
	} {
		hr := bindRequest("/dl/reports/q1.pdf", remote, http.Header{"X-Forwarded-For": {"203.0.113.99"}})
		r := cf.Bind(signers.Request{Method: "GET", Key: "reports/q1.pdf", SignTime: cfSignTime, Expires: time.Hour, Options: o}, hr, "reports/q1.pdf")
		s, err := cf.Sign(context.Background(), r)
		if err != nil {
			t.Fatalf("%s: %v", remote, err)
		}
		p := queryOf(s.URL)
		if p["Expires"] != "" || p["Policy"] == "" || p["Key-Pair-Id"] != cfTestKeyID {
			t.Fatalf("%s: not a custom-policy URL: %s", remote, s.URL)
		}
		resource, epoch, ip := policyOf(t, p["Policy"], p["Signature"])
		if ip != want {
			t.Errorf("%s: AWS:SourceIp %q, want %q", remote, ip, want)
		}
		if resource != "https://"+cfTestDomain+"/reports/q1.pdf" || epoch != cfSignTime.Unix()+3600 {
			t.Errorf("%s: resource %q, expiry %d", remote, resource, epoch)
		}
	}
}

// TestCloudFrontResourcePlaceholders: placeholders in resource are
// expanded, their values escaped as the key is in the URL, so that a '*' or
// '?' in the request path is a literal character and cannot widen the
// policy to a whole tree; {env.*} is the operator's and taken as it is.
func TestCloudFrontResourcePlaceholders(t *testing.T) {
	t.Setenv("CF_TEST_TREE", "https://cdn.example.com/shared/*")
	cf := newCloudFront(t, func(c *CloudFront) { c.Domain = "cdn.example.com" })
	sign := func(resource, path, key string) (string, string) {
		t.Helper()
		o := &signers.Options{Resource: resource}
		hr := bindRequest("/"+escape.Path(path), "192.0.2.1:1234", nil)
		r := cf.Bind(signers.Request{Method: "GET", Key: key, SignTime: cfSignTime, Expires: time.Hour, Options: o}, hr, path)
		s, err := cf.Sign(context.Background(), r)
		if err != nil {
			t.Fatalf("%q: %v", key, err)
		}
		p := queryOf(s.URL)
		got, _, _ := policyOf(t, p["Policy"], p["Signature"])
		return got, s.URL
	}
	for key, want := range map[string]string{
		"*":              "https://cdn.example.com/files/%2A",
		"a/*":            "https://cdn.example.com/files/a/%2A",
		"a?b":            "https://cdn.example.com/files/a%3Fb",
		"ünï/x y.txt":    "https://cdn.example.com/files/%C3%BCn%C3%AF/x%20y.txt",
		"plain/file.txt": "https://cdn.example.com/files/plain/file.txt",
	} {
		resource, u := sign("https://cdn.example.com/{presign.path}", "files/"+key, "files/"+key)
		if resource != want {
			t.Errorf("%q: resource %q, want %q", key, resource, want)
		}
		if base := strings.SplitN(u, "?", 2)[0]; base != want {
			t.Errorf("%q: the resource does not match the URL %s", key, base)
		}
	}
	if resource, _ := sign("{env.CF_TEST_TREE}", "shared/x", "shared/x"); resource != "https://cdn.example.com/shared/*" {
		t.Errorf("{env.*} resource %q: the operator's value is taken as it is", resource)
	}
}

// TestCloudFrontHandlerRequests: the requests the handler makes of a
// profile sign as its users expect: the profile's expires is the default
// lifetime (1h unless set); a domain with a path prefix goes before every
// key, escaped; a stable window's start signs one URL (one policy, one
// signature) for the window, which expires at the window's start plus the
// lifetime; cookies for a resource pattern hold its policy, with no IP.
func TestCloudFrontHandlerRequests(t *testing.T) {
	if d := newCloudFront(t, nil).DefaultExpires(); d != time.Hour {
		t.Errorf("default expires %s, want 1h", d)
	}
	cf := newCloudFront(t, func(c *CloudFront) {
		c.Domain, c.Expires = "https://cdn.example.com/media/", caddy.Duration(2*time.Hour)
	})
	if d := cf.DefaultExpires(); d != 2*time.Hour {
		t.Errorf("default expires %s, want the profile's 2h", d)
	}
	s, err := cf.Sign(context.Background(), signers.Request{
		Method: "GET", Key: "clips/ünï 1.mp4", SignTime: cfSignTime,
		Expires: cf.DefaultExpires(), Options: &signers.Options{},
	})
	if want := "https://cdn.example.com/media/clips/%C3%BCn%C3%AF%201.mp4?Expires=1767232800&Signature="; err != nil || !strings.HasPrefix(s.URL, want) {
		t.Errorf("URL %v (%v), want it to start with %s", s, err, want)
	}

	// stable 1m, expires 10m, bind_client_ip: the window's start signs
	cf = newCloudFront(t, nil)
	ip := netip.MustParseAddr("192.0.2.1")
	o := &signers.Options{BindClientIP: true}
	at := func(t0 time.Time) string {
		s, err := cf.Sign(context.Background(), signers.Request{Method: "GET", Key: "cat.jpg", SignTime: t0, Expires: 10 * time.Minute, Options: o, ClientIP: ip})
		if err != nil {
			t.Fatal(err)
		}
		return s.URL
	}
	u1, u2, u3 := at(cfSignTime), at(cfSignTime), at(cfSignTime.Add(time.Minute))
	if u1 != u2 {
		t.Errorf("one window, two URLs:\n%s\n%s", u1, u2)
	}
	if u3 == u1 {
		t.Errorf("the next window gave the same URL")
	}
	p := queryOf(u1)
	if _, epoch, _ := policyOf(t, p["Policy"], p["Signature"]); epoch != cfSignTime.Unix()+600 {
		t.Errorf("expiry %d, want the window's start + 10m = %d", epoch, cfSignTime.Unix()+600)
	}

	// cookies for the resource https://cdn.example.com/results/experiment.zarr/*
	cf = newCloudFront(t, func(c *CloudFront) { c.Domain = "cdn.example.com" })
	res := "https://cdn.example.com/results/experiment.zarr/*"
	s = cfSign(t, cf, "results/experiment.zarr/.zattrs", signers.Options{Cookies: true, CookieDomain: "example.com", Resource: res}, res, netip.Addr{})
	cookies := map[string]string{}
	for _, c := range s.Cookies {
		cookies[c.Name] = c.Value
	}
	resource, epoch, sourceIP := policyOf(t, cookies["CloudFront-Policy"], cookies["CloudFront-Signature"])
	if resource != res || epoch != cfSignTime.Unix()+3600 || sourceIP != "" {
		t.Errorf("policy: resource %q, expiry %d, IP %q", resource, epoch, sourceIP)
	}
}

// TestCloudFrontInlineKeyOfWrongType: an inline private_key (from the
// environment) of a type CloudFront cannot use is refused, naming the
// option and the type, without key material.
func TestCloudFrontInlineKeyOfWrongType(t *testing.T) {
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(ed)
	edPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	err := (&CloudFront{Domain: cfTestDomain, KeyPairID: cfTestKeyID, PrivateKey: string(edPEM)}).Provision(caddy.Context{})
	if want := "private_key: an Ed25519 key cannot sign"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("%v, want %q", err, want)
	}
	assertNoKeyMaterial(t, err.Error(), edPEM)
}
