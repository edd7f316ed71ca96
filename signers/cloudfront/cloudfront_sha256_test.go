package cloudfront

import (
	"crypto"
	"crypto/rsa"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/cloudfront/sign"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-presign/presign/internal/cfverify"
	"github.com/caddy-presign/presign/signers"
)

// TestCloudFrontSHA256: with hash_algorithm sha256, RSA and ECDSA keys sign
// canned and custom policies, as URLs and as cookies, over the policy's
// SHA-256; URLs end in Hash-Algorithm=SHA256 and cookies add
// CloudFront-Hash-Algorithm=SHA256; the verifier, with the public key,
// accepts them and refuses them without the algorithm, with SHA-1 named, or
// tampered.
func TestCloudFrontSHA256(t *testing.T) {
	ip := netip.MustParseAddr("192.0.2.1")
	for _, k := range []struct{ name, priv, pub string }{
		{"RSA", cfRSAPKCS1, cfRSAPublic},
		{"ECDSA", cfECSEC1, cfECPublic},
	} {
		v := &cfverify.Verifier{KeyID: cfTestKeyID, Pub: loadPublicKey(t, k.pub)}
		cf := newCloudFront(t, func(c *CloudFront) { c.PrivateKeyFile, c.HashAlgorithm = k.priv, "sha256" })
		sha1cf := newCloudFront(t, func(c *CloudFront) { c.PrivateKeyFile = k.priv })
		for _, o := range []struct {
			name string
			opts signers.Options
		}{
			{"canned", signers.Options{}},
			{"custom", signers.Options{Resource: wildcardResource, BindClientIP: true}},
		} {
			t.Run(k.name+"/"+o.name, func(t *testing.T) {
				key := "results/experiment.zarr/.zattrs"
				s := cfSign(t, cf, key, o.opts, o.opts.Resource, ip)
				if !strings.HasSuffix(s.URL, "&Key-Pair-Id="+cfTestKeyID+"&Hash-Algorithm=SHA256") {
					t.Errorf("URL %s does not end with the key pair ID and Hash-Algorithm=SHA256", s.URL)
				}
				req := cfverify.Request{URL: s.URL, Time: cfSignTime, IP: ip}
				if _, err := v.Check(req); err != nil {
					t.Errorf("verifier refuses %s: %v", s.URL, err)
				}
				// the same policy under SHA-1 is signed differently
				old := cfSign(t, sha1cf, key, o.opts, o.opts.Resource, ip)
				if strings.Contains(old.URL, "Hash-Algorithm") {
					t.Errorf("a sha1 profile's URL names the algorithm: %s", old.URL)
				}
				if sig(t, old.URL) == sig(t, s.URL) {
					t.Errorf("SHA-1 and SHA-256 give the same signature")
				}
				for what, u := range map[string]string{
					"without Hash-Algorithm":                     strings.TrimSuffix(s.URL, "&Hash-Algorithm=SHA256"),
					"with Hash-Algorithm=SHA1":                   strings.TrimSuffix(s.URL, "SHA256") + "SHA1",
					"SHA-1 signature with Hash-Algorithm=SHA256": old.URL + "&Hash-Algorithm=SHA256",
					"with its signature tampered":                strings.Replace(s.URL, "&Signature=", "&Signature=A", 1),
				} {
					if _, err := v.Check(cfverify.Request{URL: u, Time: cfSignTime, IP: ip}); err == nil {
						t.Errorf("verifier accepts the URL %s: %s", what, u)
					}
				}
				if o.opts.BindClientIP {
					if _, err := v.Check(cfverify.Request{URL: s.URL, Time: cfSignTime, IP: netip.MustParseAddr("192.0.2.2")}); err == nil {
						t.Errorf("verifier accepts the URL from another IP")
					}
				} else if _, err := v.Check(cfverify.Request{URL: strings.Replace(s.URL, ".zattrs", ".zgroup", 1), Time: cfSignTime}); err == nil {
					t.Errorf("verifier accepts the canned URL for another object")
				}

				opts := o.opts
				opts.Cookies = true
				c := cfSign(t, cf, key, opts, opts.Resource, ip)
				var hashCookie string
				others := c.Cookies[:0:0]
				for _, ck := range c.Cookies {
					if ck.Name == "CloudFront-Hash-Algorithm" {
						hashCookie = ck.Value
					} else {
						others = append(others, ck)
					}
				}
				if hashCookie != "SHA256" || len(c.Cookies) != 4 {
					t.Errorf("cookies %v: want four, with CloudFront-Hash-Algorithm=SHA256", c.Cookies)
				}
				if _, err := v.Check(cfverify.Request{URL: c.URL, Cookies: c.Cookies, Time: cfSignTime, IP: ip}); err != nil {
					t.Errorf("verifier refuses the cookies: %v", err)
				}
				if _, err := v.Check(cfverify.Request{URL: c.URL, Cookies: others, Time: cfSignTime, IP: ip}); err == nil {
					t.Errorf("verifier accepts the cookies without CloudFront-Hash-Algorithm")
				}
			})
		}
	}
}

// sig is the Signature parameter of a signed URL.
func sig(t *testing.T, u string) string {
	t.Helper()
	q, err := url.ParseQuery(strings.SplitN(u, "?", 2)[1])
	if err != nil {
		t.Fatal(err)
	}
	return q.Get("Signature")
}

// loadPrivateKey reads a PEM private key from testdata.
func loadPrivateKey(t *testing.T, file string) crypto.Signer {
	t.Helper()
	pem, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	key, err := parseCloudFrontKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// TestCloudFrontSHA1MatchesSDK: a sha1 profile's URLs and cookies, canned
// and custom, are byte-equal to those of AWS's Go SDK (feature/cloudfront/sign)
// for the same key, URL and policy.
func TestCloudFrontSHA1MatchesSDK(t *testing.T) {
	key := loadPrivateKey(t, cfRSAPKCS1)
	cf := newCloudFront(t, nil)
	objectURL := "https://" + cfTestDomain + "/results/experiment.zarr/.zattrs"
	expires := time.Unix(cfTestExpires, 0)
	ip := netip.MustParseAddr("2001:db8::7")

	canned, err := sign.NewURLSigner(cfTestKeyID, key).Sign(objectURL, expires)
	if err != nil {
		t.Fatal(err)
	}
	if s := cfSign(t, cf, "results/experiment.zarr/.zattrs", signers.Options{}, "", netip.Addr{}); s.URL != canned {
		t.Errorf("canned URL\n got %s\nwant %s", s.URL, canned)
	}
	policy := &sign.Policy{Statements: []sign.Statement{{Resource: wildcardResource, Condition: sign.Condition{
		DateLessThan: sign.NewAWSEpochTime(expires), IPAddress: &sign.IPAddress{SourceIP: "2001:db8::7/128"},
	}}}}
	custom, err := sign.NewURLSigner(cfTestKeyID, key).SignWithPolicy(objectURL, policy)
	if err != nil {
		t.Fatal(err)
	}
	opts := signers.Options{Resource: wildcardResource, BindClientIP: true}
	if s := cfSign(t, cf, "results/experiment.zarr/.zattrs", opts, wildcardResource, ip); s.URL != custom {
		t.Errorf("custom URL\n got %s\nwant %s", s.URL, custom)
	}
	cookies, err := sign.NewCookieSigner(cfTestKeyID, key.(*rsa.PrivateKey)).SignWithPolicy(policy)
	if err != nil {
		t.Fatal(err)
	}
	opts.Cookies = true
	s := cfSign(t, cf, "results/experiment.zarr/.zattrs", opts, wildcardResource, ip)
	if len(s.Cookies) != len(cookies) {
		t.Fatalf("%d cookies, the SDK's %d", len(s.Cookies), len(cookies))
	}
	for i, c := range cookies {
		if s.Cookies[i].Name != c.Name || s.Cookies[i].Value != c.Value {
			t.Errorf("cookie %s=%s, the SDK's %s=%s", s.Cookies[i].Name, s.Cookies[i].Value, c.Name, c.Value)
		}
	}
}

// TestCloudFrontHashAlgorithmOption: the option parses, defaults to sha1
// and refuses anything but sha1 and sha256 at start.
func TestCloudFrontHashAlgorithmOption(t *testing.T) {
	var c CloudFront
	if err := c.UnmarshalCaddyfile(caddyfile.NewTestDispenser("cloudfront {\n hash_algorithm sha256\n}")); err != nil || c.HashAlgorithm != "sha256" {
		t.Fatalf("hash_algorithm sha256: %v, %q", err, c.HashAlgorithm)
	}
	if cf := newCloudFront(t, nil); cf.HashAlgorithm != "sha1" {
		t.Errorf("default %q, want sha1", cf.HashAlgorithm)
	}
	for _, bad := range []string{"SHA256", "sha512", "md5"} {
		c := &CloudFront{Domain: cfTestDomain, KeyPairID: cfTestKeyID, PrivateKeyFile: cfRSAPKCS1, HashAlgorithm: bad}
		if err := c.Provision(caddy.Context{}); err == nil || !strings.Contains(err.Error(), "sha1 or sha256") {
			t.Errorf("hash_algorithm %s: %v", bad, err)
		}
	}
}
