package cloudfront

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-presign/presign/internal/cfverify"
	"github.com/caddy-presign/presign/signers"
)

const (
	cfTestKeyID   = "K2JCJMDEHXQW5F"
	cfTestDomain  = "d111111abcdef8.cloudfront.net"
	cfRSAPKCS1    = "testdata/cloudfront-rsa-pkcs1.pem"
	cfRSAPKCS8    = "testdata/cloudfront-rsa-pkcs8.pem"
	cfRSAPublic   = "testdata/cloudfront-rsa-public.pem"
	cfECSEC1      = "testdata/cloudfront-ec-sec1.pem"
	cfECPKCS8     = "testdata/cloudfront-ec-pkcs8.pem"
	cfECPublic    = "testdata/cloudfront-ec-public.pem"
	cfTestExpires = 1767229200 // cfSignTime + 1h
)

// cfSignTime is the fixed clock of the table tests: 2026-01-01T00:00:00Z.
var cfSignTime = time.Unix(1767225600, 0).UTC()

// newCloudFront provisions a profile for the test distribution with the
// RSA test key; mod can change its options first.
func newCloudFront(t testing.TB, mod func(*CloudFront)) *CloudFront {
	t.Helper()
	c := &CloudFront{Domain: cfTestDomain, KeyPairID: cfTestKeyID, PrivateKeyFile: cfRSAPKCS1}
	if mod != nil {
		mod(c)
	}
	if err := c.Provision(caddy.Context{}); err != nil {
		t.Fatalf("provisioning: %v", err)
	}
	return c
}

// cfSign signs a GET of key at cfSignTime for 1h with opts.
func cfSign(t testing.TB, c *CloudFront, key string, opts signers.Options, resource string, ip netip.Addr) *signers.Signed {
	t.Helper()
	s, err := c.Sign(context.Background(), signers.Request{
		Method: "GET", Key: key, SignTime: cfSignTime, Expires: time.Hour,
		Options: &opts, Resource: resource, ClientIP: ip,
	})
	if err != nil {
		t.Fatalf("signing %q: %v", key, err)
	}
	return s
}

// The expected URLs of TestCloudFrontCannedAndWildcardGolden were made by
// botocore's CloudFrontSigner (Debian python3-botocore 1.29.27) with the
// `cryptography` package signing PKCS #1 v1.5 / SHA-1, for the key in
// testdata/cloudfront-rsa-pkcs1.pem, expiry 1767229200, key pair ID
// K2JCJMDEHXQW5F, and the URL escaped by Python's urllib.parse.quote(key,
// safe="/") (systest/testdata/cloudfront_botocore.py; systest's
// TestCloudFrontBotocore compares botocore with what Caddy hands out, live).
const (
	goldenCanned = "https://d111111abcdef8.cloudfront.net/images/cat.jpg?Expires=1767229200&Signature=l61BkkEPGNIxmvnzgyKZucd03xa3hNh3HJIOmp9pLfAYSMdIzKbS9jjaZ5rgAp11dUNds-OJ2atjrq5fS1nWs5lL2ze-xz7yRZ4QU0dL7uJZ6n-RAqqWeH-qdFEqd4o-00VIYFd0n7UwZkprQX9sWHvlsHLb5P8jHJENDTpg7HA-haB7jOBuPVLboHSGD5mXlriWK2qxcjKOoZW9F0REh94YcA3YNUTj96cq4y4OyH4JDeqTlSKuVzyiJQoGAVCn019Sly1AMQALmJY13-4NJoWyq73liLJyQ6B5qR48O7WTMcOwtXkTGvAnVg750hbzbSnVzK9xmvACxrQN~pbyKw__&Key-Pair-Id=K2JCJMDEHXQW5F"

	goldenUnicode = "https://d111111abcdef8.cloudfront.net/dir/a%20b/%C3%BCn%C3%AF%20%E6%97%A5%E6%9C%AC%20%281%29.txt?Expires=1767229200&Signature=pcUN1Jb6qvigu9wtd8QvzRSZ86WeQYFTiitf42c-7LkjL8p8lo~4zAnfv5W9Pp-SagQnKnxdtTtxEhW~-dTMU176FySSbrkY0e80yGV64Cxfd3g9UpPMt23YexuCCn9JGTBiAJMWhjgpruPz-2vvBLH3BfQfPeKXFqf1lOpbWr6VuGI5pFxXoOMPhI6f2GwtYmqMsHaUj5RuJQeUTrfYWu4kp~uZ6FPaiTQSYiJ8XU-k3B6k45dGcT~AMCLGGTNf5yY--ADYNcFIaZeNE67czdlsWV0A7cVe0k-YjI9ufmdQHeGsBMYJpMo436d~QmEhgY~G30snvfBtJy5G9hv7Ww__&Key-Pair-Id=K2JCJMDEHXQW5F"

	goldenPrefix = "https://cdn.example.com/media/videos/intro.mp4?Expires=1767229200&Signature=VQiJydFH9cdjssRAUiHo1dcJs6YxonX0vcUK7zQjxMAeM4X~kxwn~~UHEBwgDyNFSKoo0cDuza2rsBO1L0WzjvDmZ3-KtUohT-tknsnnK5-4QYAWseo5n3anwcXUl0D4PANYhMi5noWuGITTTU5-a1nO~AUonZIWSI5WMzvQ9rKZe1LglJbIQh6qeU3DvxDhlXyumN05qAMl8ylJhqUxzlt0sGfBvgUsP677VpNsdjzrDTOwMfDfqTVm5c7jsffof8CBcRfv95hxR8aJ6pGa7ofz~bv0130BZ5JbNa6MRfE6DUioiQwL3RDOnshKRJsgScZikCJPE2RcgSs0EWhqmA__&Key-Pair-Id=K2JCJMDEHXQW5F"

	goldenWildcard = "https://d111111abcdef8.cloudfront.net/results/experiment.zarr/.zattrs?Policy=eyJTdGF0ZW1lbnQiOlt7IlJlc291cmNlIjoiaHR0cHM6Ly9kMTExMTExYWJjZGVmOC5jbG91ZGZyb250Lm5ldC9yZXN1bHRzL2V4cGVyaW1lbnQuemFyci8qIiwiQ29uZGl0aW9uIjp7IkRhdGVMZXNzVGhhbiI6eyJBV1M6RXBvY2hUaW1lIjoxNzY3MjI5MjAwfX19XX0_&Signature=AmwWX2sKKnV09Bn6v7GDlq~OsoJ~m0IHPp2zvx-w1kI1ZkxPFH-fIQzYIl0mkFE6B1wyxvlzcXKXGHMWw6I~B6oQzfGpdjfwn22VrRZ6XOj1MdFnt2Rej1l46gtQJ6kbXySf8iHFFynT40jIMI-doE6-fo9Tm0Ff3W3X7GALELt5jh5y2cyUduIWufASOyXwHM4rJIuoE3eGfs9T~3fgNL4XUgYaoiWEXTfsX-Bitw~EGre3ynvrHwzrRgEGDyLNHf75Sscmg4pYdxDYfx2~6Xx-R9fRu2IwdxS0Dgdy~26jwVfDhUkO3tKYewhwBaULRgtXUkD3kAXx4u89Ml51Zg__&Key-Pair-Id=K2JCJMDEHXQW5F"

	wildcardResource = "https://d111111abcdef8.cloudfront.net/results/experiment.zarr/*"
)

// TestCloudFrontCannedAndWildcardGolden: canned policies (plain key, a key
// with spaces and unicode, a domain with a path prefix) and a custom policy
// with a wildcard resource give exactly botocore's URLs, with the key in
// PKCS#1 and in PKCS#8, and the independent verifier accepts them.
func TestCloudFrontCannedAndWildcardGolden(t *testing.T) {
	v := &cfverify.Verifier{KeyID: cfTestKeyID, Pub: loadPublicKey(t, cfRSAPublic)}
	for _, keyFile := range []string{cfRSAPKCS1, cfRSAPKCS8} {
		for _, c := range []struct {
			name, domain, key, resource, want string
		}{
			{"canned", cfTestDomain, "images/cat.jpg", "", goldenCanned},
			{"spaces and unicode", cfTestDomain, "dir/a b/ünï 日本 (1).txt", "", goldenUnicode},
			{"domain with path prefix", "https://cdn.example.com/media/", "videos/intro.mp4", "", goldenPrefix},
			{"custom wildcard resource", cfTestDomain, "results/experiment.zarr/.zattrs", wildcardResource, goldenWildcard},
		} {
			t.Run(filepath.Base(keyFile)+"/"+c.name, func(t *testing.T) {
				cf := newCloudFront(t, func(cf *CloudFront) { cf.Domain, cf.PrivateKeyFile = c.domain, keyFile })
				s := cfSign(t, cf, c.key, signers.Options{Resource: c.resource}, c.resource, netip.Addr{})
				if s.URL != c.want {
					t.Errorf("URL\n got %s\nwant %s", s.URL, c.want)
				}
				if !strings.HasPrefix(s.URL, cf.Origin()+"/") {
					t.Errorf("URL %s does not start with the origin %s", s.URL, cf.Origin())
				}
				if want := time.Unix(cfTestExpires, 0); !s.ExpiresAt.Equal(want) {
					t.Errorf("ExpiresAt %s, want %s", s.ExpiresAt, want)
				}
				if _, err := v.Check(cfverify.Request{URL: s.URL, Time: cfSignTime.Add(59 * time.Minute)}); err != nil {
					t.Errorf("verifier refuses %s: %v", s.URL, err)
				}
			})
		}
	}
}

// TestCloudFrontCustomPolicies: bind_client_ip (IPv4, IPv6, with and
// without a resource) gives a custom policy with AWS:SourceIp /32 or /128
// whose JSON is CloudFront's documented statement, whose signature the
// verifier accepts from that IP only, and whose URL carries Policy,
// Signature and Key-Pair-Id and nothing else.
func TestCloudFrontCustomPolicies(t *testing.T) {
	cf := newCloudFront(t, nil)
	v := &cfverify.Verifier{KeyID: cfTestKeyID, Pub: loadPublicKey(t, cfRSAPublic)}
	for _, c := range []struct {
		name, key, resource, ip, wantPolicy, otherIP string
	}{
		{
			"IPv4", "reports/q1.pdf", "", "203.0.113.7",
			`{"Statement":[{"Resource":"https://d111111abcdef8.cloudfront.net/reports/q1.pdf","Condition":{"IpAddress":{"AWS:SourceIp":"203.0.113.7/32"},"DateLessThan":{"AWS:EpochTime":1767229200}}}]}`,
			"203.0.113.8",
		},
		{
			"IPv4-mapped IPv6 is IPv4", "reports/q1.pdf", "", "::ffff:198.51.100.1",
			`{"Statement":[{"Resource":"https://d111111abcdef8.cloudfront.net/reports/q1.pdf","Condition":{"IpAddress":{"AWS:SourceIp":"198.51.100.1/32"},"DateLessThan":{"AWS:EpochTime":1767229200}}}]}`,
			"198.51.100.2",
		},
		{
			"IPv6", "reports/q1.pdf", "", "2001:db8::7",
			`{"Statement":[{"Resource":"https://d111111abcdef8.cloudfront.net/reports/q1.pdf","Condition":{"IpAddress":{"AWS:SourceIp":"2001:db8::7/128"},"DateLessThan":{"AWS:EpochTime":1767229200}}}]}`,
			"2001:db8::8",
		},
		{
			"resource and IP", "results/experiment.zarr/0.0", wildcardResource, "192.0.2.44",
			`{"Statement":[{"Resource":"https://d111111abcdef8.cloudfront.net/results/experiment.zarr/*","Condition":{"IpAddress":{"AWS:SourceIp":"192.0.2.44/32"},"DateLessThan":{"AWS:EpochTime":1767229200}}}]}`,
			"192.0.2.45",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			ip := netip.MustParseAddr(c.ip)
			s := cfSign(t, cf, c.key, signers.Options{Resource: c.resource, BindClientIP: true}, c.resource, ip)
			u, err := url.Parse(s.URL)
			if err != nil {
				t.Fatal(err)
			}
			if got := u.Scheme + "://" + u.Host + u.EscapedPath(); got != "https://"+cfTestDomain+"/"+c.key {
				t.Errorf("URL base %s", got)
			}
			var names []string
			for _, kv := range strings.Split(u.RawQuery, "&") {
				n, _, _ := strings.Cut(kv, "=")
				names = append(names, n)
			}
			if got := strings.Join(names, " "); got != "Policy Signature Key-Pair-Id" {
				t.Errorf("query parameters %q, want Policy Signature Key-Pair-Id", got)
			}
			policy, err := v.Check(cfverify.Request{URL: s.URL, Time: cfSignTime, IP: ip})
			if err != nil {
				t.Fatalf("verifier refuses: %v", err)
			}
			if string(policy) != c.wantPolicy {
				t.Errorf("policy\n got %s\nwant %s", policy, c.wantPolicy)
			}
			if _, err := v.Check(cfverify.Request{URL: s.URL, Time: cfSignTime, IP: netip.MustParseAddr(c.otherIP)}); err == nil || !strings.Contains(err.Error(), "is not in") {
				t.Errorf("from another IP: %v, want an IP refusal", err)
			}
		})
	}
	_, err := cf.Sign(context.Background(), signers.Request{Method: "GET", Key: "k", SignTime: cfSignTime, Expires: time.Hour, Options: &signers.Options{BindClientIP: true}})
	if err == nil || !strings.Contains(err.Error(), "no client IP") {
		t.Errorf("bind_client_ip without a client IP: %v", err)
	}
}

// TestCloudFrontCookies: cookies mode answers the unsigned URL and the three
// cookies, with the canned policy (CloudFront-Expires) or a custom one
// (CloudFront-Policy), whose values are botocore's for the same policy, and
// with Path=/, Secure, HttpOnly, SameSite=Lax, the Domain when given and an
// expiry matching the policy's; the verifier accepts the cookies for URLs
// under the resource and refuses others.
func TestCloudFrontCookies(t *testing.T) {
	v := &cfverify.Verifier{KeyID: cfTestKeyID, Pub: loadPublicKey(t, cfRSAPublic)}
	cf := newCloudFront(t, func(c *CloudFront) { c.Domain = "https://cdn.example.com" })
	golden, _ := url.ParseQuery(strings.SplitN(goldenWildcard, "?", 2)[1])

	t.Run("custom", func(t *testing.T) {
		cfw := newCloudFront(t, nil)
		s := cfSign(t, cfw, "results/experiment.zarr/.zattrs", signers.Options{Cookies: true, Resource: wildcardResource}, wildcardResource, netip.Addr{})
		if s.URL != "https://"+cfTestDomain+"/results/experiment.zarr/.zattrs" {
			t.Errorf("URL %s, want the unsigned object URL", s.URL)
		}
		want := map[string]string{
			"CloudFront-Policy":      golden.Get("Policy"),
			"CloudFront-Signature":   golden.Get("Signature"),
			"CloudFront-Key-Pair-Id": cfTestKeyID,
		}
		checkCookies(t, s, want, "", 3600)
		for _, u := range []string{s.URL, "https://" + cfTestDomain + "/results/experiment.zarr/0/1/2"} {
			if _, err := v.Check(cfverify.Request{URL: u, Cookies: s.Cookies, Time: cfSignTime}); err != nil {
				t.Errorf("cookies refused for %s: %v", u, err)
			}
		}
		if _, err := v.Check(cfverify.Request{URL: "https://" + cfTestDomain + "/results/other.zarr/x", Cookies: s.Cookies, Time: cfSignTime}); err == nil {
			t.Errorf("cookies accepted outside the resource")
		}
	})
	t.Run("canned with domain", func(t *testing.T) {
		s := cfSign(t, cf, "a b/ü.bin", signers.Options{Cookies: true, CookieDomain: "example.com"}, "", netip.Addr{})
		if s.URL != "https://cdn.example.com/a%20b/%C3%BC.bin" {
			t.Errorf("URL %s", s.URL)
		}
		// the canned cookie's signature is the canned URL's for the same URL
		canned := cfSign(t, cf, "a b/ü.bin", signers.Options{}, "", netip.Addr{})
		q, _ := url.ParseQuery(strings.SplitN(canned.URL, "?", 2)[1])
		checkCookies(t, s, map[string]string{
			"CloudFront-Expires":     "1767229200",
			"CloudFront-Signature":   q.Get("Signature"),
			"CloudFront-Key-Pair-Id": cfTestKeyID,
		}, "example.com", 3600)
		if _, err := v.Check(cfverify.Request{URL: s.URL, Cookies: s.Cookies, Time: cfSignTime}); err != nil {
			t.Errorf("canned cookies refused: %v", err)
		}
		if _, err := v.Check(cfverify.Request{URL: "https://cdn.example.com/a%20b/other.bin", Cookies: s.Cookies, Time: cfSignTime}); err == nil {
			t.Errorf("canned cookies accepted for another object")
		}
	})
	t.Run("stable window start", func(t *testing.T) {
		// with stable the signing time is the window's start, in the past:
		// Max-Age counts from it, so it never falls short of the policy
		s, err := cf.Sign(context.Background(), signers.Request{
			Method: "GET", Key: "k", SignTime: cfSignTime, Expires: 2 * time.Hour,
			Options: &signers.Options{Cookies: true},
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range s.Cookies {
			if c.MaxAge != 7200 || !c.Expires.Equal(cfSignTime.Add(2*time.Hour)) {
				t.Errorf("%s: Max-Age %d, Expires %s", c.Name, c.MaxAge, c.Expires)
			}
		}
	})
}

// checkCookies checks the cookies' names, values and attributes, also as
// they are written in Set-Cookie.
func checkCookies(t *testing.T, s *signers.Signed, want map[string]string, domain string, maxAge int) {
	t.Helper()
	if len(s.Cookies) != len(want) {
		t.Fatalf("%d cookies, want %d", len(s.Cookies), len(want))
	}
	for _, c := range s.Cookies {
		w, ok := want[c.Name]
		if !ok {
			t.Errorf("unexpected cookie %s", c.Name)
			continue
		}
		if c.Value != w {
			t.Errorf("%s = %q, want %q", c.Name, c.Value, w)
		}
		if c.Path != "/" || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Domain != domain {
			t.Errorf("%s: attributes %+v", c.Name, c)
		}
		if c.MaxAge != maxAge || !c.Expires.Equal(s.ExpiresAt) {
			t.Errorf("%s: Max-Age %d Expires %s, want %d and %s", c.Name, c.MaxAge, c.Expires, maxAge, s.ExpiresAt)
		}
		line := c.String()
		for _, attr := range []string{c.Name + "=" + w, "Path=/", "Secure", "HttpOnly", "SameSite=Lax", fmt.Sprintf("Max-Age=%d", maxAge), "Expires="} {
			if !strings.Contains(line, attr) {
				t.Errorf("Set-Cookie %q lacks %q", line, attr)
			}
		}
		if domain != "" && !strings.Contains(line, "Domain="+domain) {
			t.Errorf("Set-Cookie %q lacks Domain=%s", line, domain)
		}
	}
}

// TestCloudFrontECDSA: a P-256 key (SEC 1 or PKCS#8) signs DER ECDSA over
// the policy's SHA-1, which the verifier accepts with the public key; the
// signature is deterministic (RFC 6979), so both key files and repeated
// requests give the same URL.
func TestCloudFrontECDSA(t *testing.T) {
	v := &cfverify.Verifier{KeyID: cfTestKeyID, Pub: loadPublicKey(t, cfECPublic)}
	var urls []string
	for _, keyFile := range []string{cfECSEC1, cfECPKCS8} {
		cf := newCloudFront(t, func(c *CloudFront) { c.PrivateKeyFile = keyFile })
		for _, opts := range []signers.Options{{}, {Resource: wildcardResource, BindClientIP: true}} {
			s := cfSign(t, cf, "results/experiment.zarr/.zgroup", opts, opts.Resource, netip.MustParseAddr("192.0.2.1"))
			if _, err := v.Check(cfverify.Request{URL: s.URL, Time: cfSignTime, IP: netip.MustParseAddr("192.0.2.1")}); err != nil {
				t.Errorf("%s %+v: verifier refuses %s: %v", keyFile, opts, s.URL, err)
			}
			urls = append(urls, s.URL)
		}
		cf.cache, cf.ans = newSigCache(cfCacheSize), newCFAnswerCache() // sign again, not from the caches
		if again := cfSign(t, cf, "results/experiment.zarr/.zgroup", signers.Options{}, "", netip.Addr{}); again.URL != urls[len(urls)-2] {
			t.Errorf("ECDSA is not deterministic:\n%s\n%s", again.URL, urls[len(urls)-2])
		}
	}
	if urls[0] != urls[2] || urls[1] != urls[3] {
		t.Errorf("SEC 1 and PKCS#8 forms of one key sign differently")
	}
	sig, _ := url.ParseQuery(strings.SplitN(urls[0], "?", 2)[1])
	if der, _ := cfverify.Decode(sig.Get("Signature")); len(der) < 8 || der[0] != 0x30 {
		t.Errorf("ECDSA signature is not DER: % x", der)
	}
}

// TestCloudFrontVerifierRejects: the verifier refuses what CloudFront
// refuses: a tampered signature, a tampered policy, an expired URL, a
// wrong IP, a URL outside the policy's resource (and a canned URL moved to
// another object), an unknown key pair ID and a URL signed by another key.
func TestCloudFrontVerifierRejects(t *testing.T) {
	cf := newCloudFront(t, nil)
	v := &cfverify.Verifier{KeyID: cfTestKeyID, Pub: loadPublicKey(t, cfRSAPublic)}
	ip := netip.MustParseAddr("203.0.113.9")
	canned := cfSign(t, cf, "images/cat.jpg", signers.Options{}, "", netip.Addr{}).URL
	custom := cfSign(t, cf, "results/experiment.zarr/.zattrs", signers.Options{Resource: wildcardResource, BindClientIP: true}, wildcardResource, ip).URL
	for _, u := range []string{canned, custom} {
		if _, err := v.Check(cfverify.Request{URL: u, Time: cfSignTime, IP: ip}); err != nil {
			t.Fatalf("verifier refuses a good URL %s: %v", u, err)
		}
	}
	replaceParam := func(u, name, value string) string {
		i := strings.Index(u, name+"=") + len(name) + 1
		j := strings.IndexByte(u[i:], '&')
		return u[:i] + value + u[i+j:]
	}
	flip := func(u, name string) string {
		i := strings.Index(u, name+"=") + len(name) + 1 + 10
		c := byte('A')
		if u[i] == 'A' {
			c = 'B'
		}
		return u[:i] + string(c) + u[i+1:]
	}
	policyOf := func(u string) string {
		q, _ := url.ParseQuery(strings.SplitN(u, "?", 2)[1])
		return q.Get("Policy")
	}
	other := newCloudFront(t, func(c *CloudFront) { c.PrivateKeyFile = cfECPKCS8 })
	for _, c := range []struct {
		name string
		req  cfverify.Request
		want string
	}{
		{"tampered canned signature", cfverify.Request{URL: flip(canned, "Signature"), Time: cfSignTime}, "bad signature"},
		{"tampered custom signature", cfverify.Request{URL: flip(custom, "Signature"), Time: cfSignTime, IP: ip}, "bad signature"},
		{"tampered Expires", cfverify.Request{URL: replaceParam(canned, "Expires", "1767239200"), Time: cfSignTime}, "bad signature"},
		{"tampered policy", cfverify.Request{URL: replaceParam(custom, "Policy", cfEncode(strings.Replace(cfDecodeString(t, policyOf(custom)), "203.0.113.9/32", "0.0.0.0/0", 1))), Time: cfSignTime, IP: ip}, "bad signature"},
		{"expired canned", cfverify.Request{URL: canned, Time: time.Unix(cfTestExpires, 0)}, "expired"},
		{"expired custom", cfverify.Request{URL: custom, Time: time.Unix(cfTestExpires+60, 0), IP: ip}, "expired"},
		{"wrong IP", cfverify.Request{URL: custom, Time: cfSignTime, IP: netip.MustParseAddr("203.0.113.10")}, "is not in"},
		{"no IP", cfverify.Request{URL: custom, Time: cfSignTime}, "is not in"},
		{"out of the resource's tree", cfverify.Request{URL: strings.Replace(custom, "/results/experiment.zarr/", "/results/secret/", 1), Time: cfSignTime, IP: ip}, "does not cover"},
		{"canned moved to another object", cfverify.Request{URL: strings.Replace(canned, "/cat.jpg", "/dog.jpg", 1), Time: cfSignTime}, "bad signature"},
		{"query added to a canned URL", cfverify.Request{URL: strings.Replace(canned, "?", "?x=1&", 1), Time: cfSignTime}, "bad signature"},
		{"unknown key pair ID", cfverify.Request{URL: replaceParam(canned, "Key-Pair-Id", "KOTHER"), Time: cfSignTime}, "unknown key pair"},
		{"another key", cfverify.Request{URL: cfSign(t, other, "images/cat.jpg", signers.Options{}, "", netip.Addr{}).URL, Time: cfSignTime}, "bad signature"},
		{"no signature", cfverify.Request{URL: strings.SplitN(canned, "?", 2)[0], Time: cfSignTime}, "unknown key pair"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := v.Check(c.req)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error with %q", err, c.want)
			}
		})
	}
}

func cfEncode(s string) string {
	return strings.NewReplacer("+", "-", "=", "_", "/", "~").Replace(base64.StdEncoding.EncodeToString([]byte(s)))
}

func cfDecodeString(t testing.TB, s string) string {
	b, err := cfverify.Decode(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCloudFrontProvisionErrors: a profile that cannot work stops at start
// with an error that names the option and, for keys, says which formats
// work, and no error ever holds key material.
func TestCloudFrontProvisionErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pemOf := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pemOf("PRIVATE KEY", der)
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	rsaPEM, _ := os.ReadFile(cfRSAPKCS1)
	// an RFC 1423 encrypted PEM, as `openssl rsa -aes256` writes
	encBlock, err := x509.EncryptPEMBlock(rand.Reader, "RSA PRIVATE KEY", pemBlockBytes(t, rsaPEM), []byte("pw"), x509.PEMCipherAES256)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"ed25519":   write("ed25519.pem", pkcs8(edKey)),
		"p384":      write("p384.pem", pkcs8(p384)),
		"rsa1024":   write("rsa1024.pem", pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa1024))),
		"encrypted": write("enc.pem", pem.EncodeToMemory(encBlock)),
		"garbage":   write("garbage.pem", []byte("not a key at all\n")),
		"truncated": write("trunc.pem", rsaPEM[:len(rsaPEM)/2]),
	}
	for _, c := range []struct {
		name string
		cf   CloudFront
		want []string
	}{
		{"missing domain", CloudFront{KeyPairID: cfTestKeyID, PrivateKeyFile: cfRSAPKCS1}, []string{"domain is required"}},
		{"missing key_pair_id", CloudFront{Domain: cfTestDomain, PrivateKeyFile: cfRSAPKCS1}, []string{"key_pair_id is required"}},
		{"bad key_pair_id", CloudFront{Domain: cfTestDomain, KeyPairID: "K1&x=y", PrivateKeyFile: cfRSAPKCS1}, []string{"key_pair_id", "letters and digits"}},
		{"missing key", CloudFront{Domain: cfTestDomain, KeyPairID: cfTestKeyID}, []string{"private key is required", "private_key_file", "private_key"}},
		{"both keys", CloudFront{Domain: cfTestDomain, KeyPairID: cfTestKeyID, PrivateKeyFile: cfRSAPKCS1, PrivateKey: string(rsaPEM)}, []string{"exclude each other"}},
		{"unreadable file", CloudFront{Domain: cfTestDomain, KeyPairID: cfTestKeyID, PrivateKeyFile: filepath.Join(dir, "nope.pem")}, []string{"private_key_file", "cannot read", "nope.pem"}},
		{"empty env key", CloudFront{Domain: cfTestDomain, KeyPairID: cfTestKeyID, PrivateKey: "{env.CF_TEST_UNSET_KEY}"}, []string{"private_key expanded to an empty value"}},
		{"http domain", CloudFront{Domain: "http://cdn.example.com", KeyPairID: cfTestKeyID, PrivateKeyFile: cfRSAPKCS1}, []string{"https"}},
		{"domain with query", CloudFront{Domain: "https://cdn.example.com/x?y=1", KeyPairID: cfTestKeyID, PrivateKeyFile: cfRSAPKCS1}, []string{"without user, query or fragment"}},
		{"domain with dot segment", CloudFront{Domain: "https://cdn.example.com/a/../b", KeyPairID: cfTestKeyID, PrivateKeyFile: cfRSAPKCS1}, []string{"clean"}},
		{"ed25519 key", CloudFront{Domain: cfTestDomain, KeyPairID: cfTestKeyID, PrivateKeyFile: files["ed25519"]}, []string{"Ed25519", "PKCS#1", "PKCS#8", "P-256"}},
		{"P-384 key", CloudFront{Domain: cfTestDomain, KeyPairID: cfTestKeyID, PrivateKeyFile: files["p384"]}, []string{"P-384", "not P-256"}},
		{"RSA 1024", CloudFront{Domain: cfTestDomain, KeyPairID: cfTestKeyID, PrivateKeyFile: files["rsa1024"]}, []string{"1024 bits", "2048"}},
		{"encrypted key", CloudFront{Domain: cfTestDomain, KeyPairID: cfTestKeyID, PrivateKeyFile: files["encrypted"]}, []string{"encrypted"}},
		{"not PEM", CloudFront{Domain: cfTestDomain, KeyPairID: cfTestKeyID, PrivateKeyFile: files["garbage"]}, []string{"not a PEM private key", "PKCS#1"}},
		{"truncated PEM", CloudFront{Domain: cfTestDomain, KeyPairID: cfTestKeyID, PrivateKeyFile: files["truncated"]}, []string{"not a PEM private key"}},
		{"public key", CloudFront{Domain: cfTestDomain, KeyPairID: cfTestKeyID, PrivateKeyFile: cfRSAPublic}, []string{"public key, not the private key"}},
		{"broken inline key", CloudFront{Domain: cfTestDomain, KeyPairID: cfTestKeyID, PrivateKey: strings.Replace(string(rsaPEM), "M", "!", 3)}, []string{"private_key:", "PKCS#1"}},
		{"zero expires is default, negative refused", CloudFront{Domain: cfTestDomain, KeyPairID: cfTestKeyID, PrivateKeyFile: cfRSAPKCS1, Expires: caddy.Duration(-time.Second)}, []string{"expires must be positive"}},
		{"fractional expires", CloudFront{Domain: cfTestDomain, KeyPairID: cfTestKeyID, PrivateKeyFile: cfRSAPKCS1, Expires: caddy.Duration(1500 * time.Millisecond)}, []string{"whole seconds"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.cf.Provision(caddy.Context{})
			if err == nil {
				t.Fatalf("accepted; want an error with %q", c.want)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			assertNoKeyMaterial(t, err.Error(), rsaPEM)
		})
	}
}

// assertNoKeyMaterial fails if msg holds a PEM header or any 16-character
// run of the key's base64.
func assertNoKeyMaterial(t testing.TB, msg string, pemData []byte) {
	t.Helper()
	if strings.Contains(msg, "PRIVATE KEY") || strings.Contains(msg, "-----") {
		t.Errorf("error holds a PEM header: %s", msg)
	}
	body := strings.Join(strings.Split(string(pemData), "\n")[1:], "")
	body = strings.ReplaceAll(body, "-----END RSA PRIVATE KEY-----", "")
	for i := 0; i+16 <= len(body); i += 8 {
		if strings.Contains(msg, body[i:i+16]) {
			t.Errorf("error holds key material %q: %s", body[i:i+16], msg)
			return
		}
	}
}

func pemBlockBytes(t testing.TB, data []byte) []byte {
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatal("no PEM")
	}
	return b.Bytes
}

// TestCloudFrontKeyForms: the key is accepted from a file and inline, with
// placeholders, with its line breaks as the two characters \n (as in an
// environment variable), on one line with spaces, and with openssl's EC
// PARAMETERS block ahead of it; all give the same signature.
func TestCloudFrontKeyForms(t *testing.T) {
	rsaPEM, _ := os.ReadFile(cfRSAPKCS1)
	ecPEM, _ := os.ReadFile(cfECSEC1)
	want := cfSign(t, newCloudFront(t, nil), "k", signers.Options{}, "", netip.Addr{}).URL
	wantEC := cfSign(t, newCloudFront(t, func(c *CloudFront) { c.PrivateKeyFile = cfECSEC1 }), "k", signers.Options{}, "", netip.Addr{}).URL
	t.Setenv("CF_TEST_KEY_ESCAPED", strings.ReplaceAll(strings.TrimSpace(string(rsaPEM)), "\n", `\n`))
	t.Setenv("CF_TEST_KEY", string(rsaPEM))
	t.Setenv("CF_TEST_DOMAIN", cfTestDomain)
	abs, _ := filepath.Abs(cfRSAPKCS1)
	params := "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
	for name, c := range map[string]struct {
		mod  func(*CloudFront)
		want string
	}{
		"inline PEM":       {func(c *CloudFront) { c.PrivateKeyFile, c.PrivateKey = "", string(rsaPEM) }, want},
		"env placeholder":  {func(c *CloudFront) { c.PrivateKeyFile, c.PrivateKey = "", "{env.CF_TEST_KEY}" }, want},
		"escaped newlines": {func(c *CloudFront) { c.PrivateKeyFile, c.PrivateKey = "", "{env.CF_TEST_KEY_ESCAPED}" }, want},
		"one line": {func(c *CloudFront) {
			c.PrivateKeyFile, c.PrivateKey = "", strings.ReplaceAll(string(rsaPEM), "\n", " ")
		}, want},
		"file placeholder":    {func(c *CloudFront) { c.PrivateKeyFile, c.PrivateKey = "", "{file."+abs+"}" }, want},
		"domain placeholder":  {func(c *CloudFront) { c.Domain = "{env.CF_TEST_DOMAIN}" }, want},
		"EC PARAMETERS first": {func(c *CloudFront) { c.PrivateKeyFile, c.PrivateKey = "", params+string(ecPEM) }, wantEC},
	} {
		t.Run(name, func(t *testing.T) {
			if got := cfSign(t, newCloudFront(t, c.mod), "k", signers.Options{}, "", netip.Addr{}).URL; got != c.want {
				t.Errorf("got %s\nwant %s", got, c.want)
			}
		})
	}
}

// TestCloudFrontCheckRule: uploads and S3 options are refused on a
// CloudFront rule, and so are a resource that is no URL pattern and a
// cookie domain that would not reach the distribution.
func TestCloudFrontCheckRule(t *testing.T) {
	cf := newCloudFront(t, func(c *CloudFront) { c.Domain = "cdn.example.com" })
	for _, c := range []struct {
		methods []string
		opts    signers.Options
		want    string
	}{
		{[]string{"GET", "PUT"}, signers.Options{}, "method PUT: CloudFront signs downloads only: GET, HEAD"},
		{[]string{"POST"}, signers.Options{}, "method POST: CloudFront signs downloads only: GET, HEAD"},
		{[]string{"GET"}, signers.Options{ContentDisposition: "attachment"}, "content_disposition is not an option of cloudfront profiles"},
		{[]string{"GET"}, signers.Options{ContentType: "a/b"}, "content_type is not an option of cloudfront profiles"},
		{[]string{"GET"}, signers.Options{CacheControl: "x"}, "cache_control is not an option of cloudfront profiles"},
		{[]string{"GET"}, signers.Options{MaxSize: 10}, "max_size is not an option of cloudfront profiles"},
		{[]string{"GET"}, signers.Options{ContentTypePrefix: signers.TypePrefixes{"image/"}}, "content_type_prefix is not an option of cloudfront profiles"},
		{[]string{"GET"}, signers.Options{Resource: "cdn.example.com/*"}, "a URL pattern such as https://cdn.example.com/dir/*"},
		{[]string{"GET"}, signers.Options{Resource: "https://cdn.example.com/a b/*"}, "printable ASCII"},
		{[]string{"GET"}, signers.Options{Resource: "https://cdn.example.com/ü/*"}, "printable ASCII"},
		{[]string{"GET"}, signers.Options{Cookies: true, CookieDomain: "example.org"}, "browsers would not send these cookies to the distribution at cdn.example.com"},
		{[]string{"GET"}, signers.Options{Cookies: true, CookieDomain: "ample.com"}, "would not send"},
		{[]string{"GET"}, signers.Options{Cookies: true, CookieDomain: "bad domain"}, "not a domain name"},
		{[]string{"GET"}, signers.Options{CookieDomain: "example.com"}, "cookie_domain needs cookies"},
	} {
		err := cf.CheckRule(&signers.RuleInfo{Profile: "cf", Methods: c.methods, Expires: time.Hour, Options: &c.opts})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %+v: %v, want %q", c.methods, c.opts, err, c.want)
		}
	}
	for _, ok := range []signers.Options{
		{},
		{Resource: "https://cdn.example.com/results/*", BindClientIP: true},
		{Resource: "http*://cdn.example.com/*"},
		{Resource: "*"},
		{Resource: "{env.CF_RESOURCE}"},
		{Cookies: true},
		{Cookies: true, CookieDomain: "example.com"},
		{Cookies: true, CookieDomain: ".example.com"},
		{Cookies: true, CookieDomain: "cdn.example.com"},
	} {
		if err := cf.CheckRule(&signers.RuleInfo{Profile: "cf", Methods: []string{"GET", "HEAD"}, Expires: 30 * 24 * time.Hour, Options: &ok}); err != nil {
			t.Errorf("%+v refused: %v", ok, err)
		}
	}
	for d, want := range map[time.Duration]string{
		-time.Minute:            "expires must be positive, got -1m0s",
		0:                       "expires must be positive, got 0s",
		1500 * time.Millisecond: "expires must be whole seconds, got 1.5s",
	} {
		err := cf.CheckRule(&signers.RuleInfo{Profile: "cf", Methods: []string{"GET"}, Expires: d, Options: &signers.Options{}})
		if err == nil || err.Error() != want {
			t.Errorf("expires %s: %v, want %q", d, err, want)
		}
	}
	// a resource the rule's URLs surely fall outside of, where the pattern
	// and the key prefix show it (compared up to letter case)
	for _, c := range []struct {
		prefix, resource string
		refused          bool
	}{
		{"zarr/", "https://cdn.example.com/results/experiment.zarr/*", true},
		{"", "https://cdn.example.com/results/experiment.zarr/*", false},
		{"results/", "https://cdn.example.com/results/experiment.zarr/*", false},
		{"Results/Experiment.zarr/x/", "https://CDN.example.com/results/experiment.zarr/*", false},
		{"a b/", "https://cdn.example.com/a%20b/*", false},
		{"a b/", "https://cdn.example.com/a+b/*", true},
		{"zarr/", "https://{host}/results/*", false},
		{"zarr/", "http*://cdn.example.com/results/*", false}, // only "http" is literal
		{"zarr/", "http://cdn.example.com/zarr/*", true},
		{"zarr/", "*", false},
	} {
		err := cf.CheckRule(&signers.RuleInfo{
			Profile: "cf", Methods: []string{"GET"}, Expires: time.Hour, KeyPrefix: c.prefix,
			Options: &signers.Options{Resource: c.resource, Cookies: true},
		})
		if (err != nil) != c.refused || err != nil && !strings.Contains(err.Error(), "with strip_prefix") {
			t.Errorf("key prefix %q, resource %s: %v; want refused=%v", c.prefix, c.resource, err, c.refused)
		}
	}
	if def := cf.DefaultExpires(); def != time.Hour {
		t.Errorf("DefaultExpires() = %s, want 1h", def)
	}
}

// TestCloudFrontCaddyfile: the profile block is parsed strictly, and a PEM
// pasted unquoted is refused without being echoed.
func TestCloudFrontCaddyfile(t *testing.T) {
	parse := func(block string) (*CloudFront, error) {
		c := new(CloudFront)
		return c, c.UnmarshalCaddyfile(caddyfile.NewTestDispenser(block))
	}
	c, err := parse(`cloudfront {
		domain https://cdn.example.com/media
		key_pair_id K2JCJMDEHXQW5F
		private_key_file /etc/caddy/cf.pem
		expires 2h
	}`)
	if err != nil {
		t.Fatal(err)
	}
	if c.Domain != "https://cdn.example.com/media" || c.KeyPairID != cfTestKeyID || c.PrivateKeyFile != "/etc/caddy/cf.pem" || time.Duration(c.Expires) != 2*time.Hour {
		t.Errorf("parsed %+v", c)
	}
	if c, err = parse("cloudfront {\n\tprivate_key {env.CF_KEY}\n}"); err != nil || c.PrivateKey != "{env.CF_KEY}" {
		t.Errorf("private_key: %+v, %v", c, err)
	}
	if _, err := parse("cloudfront {\n\tbucket x\n}"); err == nil || !strings.Contains(err.Error(), `unknown subdirective "bucket" in cloudfront profile (domain, key_pair_id, private_key_file, private_key, kms_key, kms_endpoint, kms_timeout, region, access_key_id, secret_access_key, session_token, aws_profile, role_arn, credentials_timeout, hash_algorithm, expires)`) {
		t.Errorf("unknown subdirective: %v", err)
	}
	if _, err := parse("cloudfront extra {\n}"); err == nil {
		t.Errorf("argument after the kind accepted")
	}
	rsaPEM, _ := os.ReadFile(cfRSAPKCS1)
	lines := strings.Split(strings.TrimSpace(string(rsaPEM)), "\n")
	for _, block := range []string{
		"cloudfront {\n\tprivate_key " + strings.Join(lines, "\n") + "\n}",
		"cloudfront {\n\tprivate_key " + lines[0] + "\n}",
		"cloudfront {\n\tprivate_key\n\t" + strings.Join(lines[1:3], "\n") + "\n}",
	} {
		_, err := parse(block)
		if err == nil {
			t.Errorf("unquoted PEM accepted")
			continue
		}
		assertNoKeyMaterial(t, err.Error(), rsaPEM)
	}
}

// countingSigner counts the signatures made with the key.
type countingSigner struct {
	crypto.Signer
	n atomic.Int64
}

func (s *countingSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	s.n.Add(1)
	return s.Signer.Sign(r, digest, opts)
}

// TestCloudFrontSignatureCache: a policy signed once is not signed again
// (the hot object of a `stable` window costs one signature), concurrent
// requests agree, and the cache stays within its bound.
func TestCloudFrontSignatureCache(t *testing.T) {
	cf := newCloudFront(t, nil)
	counter := &countingSigner{Signer: cf.key}
	cf.key = counter

	first := cfSign(t, cf, "hot.jpg", signers.Options{}, "", netip.Addr{}).URL
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := cf.Sign(context.Background(), signers.Request{Method: "GET", Key: "hot.jpg", SignTime: cfSignTime, Expires: time.Hour, Options: &signers.Options{}})
			if err != nil || s.URL != first {
				t.Errorf("concurrent request: %v, %v", s, err)
			}
		}()
	}
	wg.Wait()
	if n := counter.n.Load(); n != 1 {
		t.Errorf("%d signatures for one policy, want 1", n)
	}
	// the same policy as cookies costs nothing more either
	cfSign(t, cf, "hot.jpg", signers.Options{Cookies: true}, "", netip.Addr{})
	// another IP, resource or expiry is another policy
	cfSign(t, cf, "hot.jpg", signers.Options{BindClientIP: true}, "", netip.MustParseAddr("192.0.2.1"))
	cfSign(t, cf, "hot.jpg", signers.Options{BindClientIP: true}, "", netip.MustParseAddr("192.0.2.2"))
	if n := counter.n.Load(); n != 3 {
		t.Errorf("%d signatures, want 3", n)
	}

	// bounded
	small := newSigCache(8)
	for i := 0; i < 100; i++ {
		small.add(fmt.Sprint(i), cfSignature{signature: fmt.Sprint(i)})
		if n := small.len(); n > 8 {
			t.Fatalf("cache holds %d entries, bound 8", n)
		}
	}
	// a hot entry survives any number of others
	hot := newSigCache(8)
	hot.add("hot", cfSignature{signature: "h"})
	for i := 0; i < 100; i++ {
		hot.add(fmt.Sprint(i), cfSignature{})
		if _, ok := hot.get("hot"); !ok {
			t.Fatalf("hot entry dropped after %d others", i+1)
		}
	}
	if s := newSigCache(cfCacheSize); s.max*2 != cfCacheSize {
		t.Errorf("cache bound %d", s.max*2)
	}
}

// BenchmarkCloudFrontSign compares a raw RSA-2048 PKCS #1 v1.5 signature
// with Sign for a new policy each time (the cost without `stable`) and for
// a policy already signed (a hot object within a `stable` window); and the
// same for ECDSA P-256.
func BenchmarkCloudFrontSign(b *testing.B) {
	for _, k := range []struct{ name, file string }{{"rsa2048", cfRSAPKCS1}, {"ecdsa-p256", cfECPKCS8}} {
		cf := newCloudFront(b, func(c *CloudFront) { c.PrivateKeyFile = k.file })
		digest := sha1.Sum([]byte(`{"Statement":[{"Resource":"https://d111111abcdef8.cloudfront.net/images/cat.jpg","Condition":{"DateLessThan":{"AWS:EpochTime":1767229200}}}]}`))
		b.Run(k.name+"/raw", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := cf.key.Sign(rand.Reader, digest[:], crypto.SHA1); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(k.name+"/sign-uncached", func(b *testing.B) {
			b.ReportAllocs()
			req := signers.Request{Method: "GET", Key: "images/cat.jpg", Expires: time.Hour, Options: &signers.Options{}}
			i := 0
			for b.Loop() {
				i++
				req.SignTime = cfSignTime.Add(time.Duration(i) * time.Second) // a new policy
				if _, err := cf.Sign(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(k.name+"/sign-stable-cached", func(b *testing.B) {
			b.ReportAllocs()
			req := signers.Request{Method: "GET", Key: "images/cat.jpg", SignTime: cfSignTime, Expires: time.Hour, Options: &signers.Options{}}
			for b.Loop() {
				if _, err := cf.Sign(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestResourceCovers: resourceCovers agrees with the verifier's
// independent matcher (CloudFront's * and ?) on its table and on many
// random patterns and URLs over a small alphabet.
func TestResourceCovers(t *testing.T) {
	for _, c := range wildcardCases {
		if got := resourceCovers(c.p, c.s); got != c.want {
			t.Errorf("resourceCovers(%q, %q) = %v, want %v", c.p, c.s, got, c.want)
		}
	}
	rng := mrand.New(mrand.NewPCG(1, 2))
	word := func(alphabet string, max int) string {
		b := make([]byte, rng.IntN(max+1))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	for range 50000 {
		p, u := word("ab/*?", 8), word("ab/", 10)
		if got, want := resourceCovers(p, u), cfverify.WildcardMatch(p, u); got != want {
			t.Fatalf("resourceCovers(%q, %q) = %v, want %v", p, u, got, want)
		}
	}
}
