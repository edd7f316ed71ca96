package signers

// An independent verifier of CloudFront signed URLs and signed cookies,
// written from CloudFront's documentation (Developer Guide: "Create a signed
// URL using a canned policy", "... using a custom policy", "Set signed
// cookies using a canned/custom policy", "Use Linux commands and OpenSSL for
// base64 encoding and encryption"), not from cloudfront.go: it shares no
// code with the signer under test.

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cfVerifier checks what CloudFront checks for a distribution whose trusted
// key group holds one public key.
type cfVerifier struct {
	keyID string
	pub   crypto.PublicKey
}

// cfRequest is one viewer request as CloudFront sees it: the URL as sent
// (with the signing parameters in the query for a signed URL), the cookies
// (for signed cookies), the time and the viewer's IP.
type cfRequest struct {
	URL     string
	Cookies []*http.Cookie
	Time    time.Time
	IP      netip.Addr
}

// loadPublicKey reads a PEM public key from testdata.
func loadPublicKey(t testing.TB, file string) crypto.PublicKey {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PUBLIC KEY" {
		t.Fatalf("%s: no PUBLIC KEY block", file)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return pub
}

// cfDecode undoes CloudFront's URL-safe base64: '-' '_' '~' stand for
// '+' '=' '/'.
func cfDecode(s string) ([]byte, error) {
	s = strings.NewReplacer("-", "+", "_", "=", "~", "/").Replace(s)
	return base64.StdEncoding.DecodeString(s)
}

// the query parameters CloudFront uses itself and removes before it
// compares the URL with the policy's resource
var cfSigningParams = map[string]bool{"Expires": true, "Policy": true, "Signature": true, "Key-Pair-Id": true, "Hash-Algorithm": true}

// cfPolicy is a policy statement as CloudFront documents it.
type cfPolicy struct {
	Statement []struct {
		Resource  *string
		Condition struct {
			DateLessThan *struct {
				EpochTime *int64 `json:"AWS:EpochTime"`
			}
			DateGreaterThan *struct {
				EpochTime *int64 `json:"AWS:EpochTime"`
			}
			IpAddress *struct {
				SourceIp *string `json:"AWS:SourceIp"`
			}
		}
	}
}

// check returns nil when CloudFront would serve req, or why it would not.
// It also returns the policy JSON it verified.
func (v *cfVerifier) check(req cfRequest) (policyJSON []byte, err error) {
	u, err := url.Parse(req.URL)
	if err != nil {
		return nil, fmt.Errorf("bad URL: %v", err)
	}
	// the signing values: from the query of a signed URL, else from cookies
	params := map[string]string{}
	var kept []string
	if u.RawQuery != "" {
		for _, kv := range strings.Split(u.RawQuery, "&") {
			name, value, _ := strings.Cut(kv, "=")
			if cfSigningParams[name] {
				if _, dup := params[name]; dup {
					return nil, fmt.Errorf("parameter %s twice", name)
				}
				params[name] = value
				continue
			}
			kept = append(kept, kv)
		}
	}
	if len(params) == 0 {
		for _, c := range req.Cookies {
			if name, ok := strings.CutPrefix(c.Name, "CloudFront-"); ok && cfSigningParams[name] {
				params[name] = c.Value
			}
		}
	}
	if params["Hash-Algorithm"] != "" {
		return nil, errors.New("Hash-Algorithm is not expected from this signer")
	}
	if params["Key-Pair-Id"] != v.keyID {
		return nil, fmt.Errorf("unknown key pair ID %q", params["Key-Pair-Id"])
	}
	// the base URL: what was requested, without the signing parameters
	base := u.Scheme + "://" + u.Host + u.EscapedPath()
	if len(kept) > 0 {
		base += "?" + strings.Join(kept, "&")
	}

	expires, canned := params["Expires"]
	policyB64, custom := params["Policy"]
	switch {
	case canned && custom:
		return nil, errors.New("both Expires and Policy")
	case canned:
		if _, err := strconv.ParseUint(expires, 10, 63); err != nil {
			return nil, fmt.Errorf("Expires %q is not a Unix time", expires)
		}
		// the canned policy statement, exactly as documented, for the URL
		// that was requested
		policyJSON = []byte(`{"Statement":[{"Resource":"` + base + `","Condition":{"DateLessThan":{"AWS:EpochTime":` + expires + `}}}]}`)
	case custom:
		if policyJSON, err = cfDecode(policyB64); err != nil {
			return nil, fmt.Errorf("Policy is not CloudFront base64: %v", err)
		}
	default:
		return nil, errors.New("neither Expires nor Policy")
	}

	sig, err := cfDecode(params["Signature"])
	if err != nil || len(sig) == 0 {
		return nil, errors.New("Signature is not CloudFront base64")
	}
	digest := sha1.Sum(policyJSON)
	switch pub := v.pub.(type) {
	case *rsa.PublicKey:
		if rsa.VerifyPKCS1v15(pub, crypto.SHA1, digest[:], sig) != nil {
			return nil, errors.New("bad signature")
		}
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, digest[:], sig) {
			return nil, errors.New("bad signature")
		}
	default:
		return nil, fmt.Errorf("key type %T", v.pub)
	}

	var p cfPolicy
	dec := json.NewDecoder(bytes.NewReader(policyJSON))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("policy is not the documented JSON: %v", err)
	}
	if len(p.Statement) != 1 {
		return nil, fmt.Errorf("policy has %d statements, CloudFront takes one", len(p.Statement))
	}
	st := p.Statement[0]
	if st.Condition.DateLessThan == nil || st.Condition.DateLessThan.EpochTime == nil {
		return nil, errors.New("policy has no DateLessThan")
	}
	now := req.Time.Unix()
	if now >= *st.Condition.DateLessThan.EpochTime {
		return nil, errors.New("expired")
	}
	if g := st.Condition.DateGreaterThan; g != nil && g.EpochTime != nil && now < *g.EpochTime {
		return nil, errors.New("not yet valid")
	}
	resource := "*" // a custom policy without a resource covers everything
	if st.Resource != nil {
		resource = *st.Resource
	}
	if !wildcardMatch(resource, base) {
		return nil, fmt.Errorf("resource %q does not cover %q", resource, base)
	}
	if ipc := st.Condition.IpAddress; ipc != nil && ipc.SourceIp != nil {
		cidr := *ipc.SourceIp
		if !strings.Contains(cidr, "/") {
			cidr += "/32"
		}
		prefix, err := netip.ParsePrefix(cidr)
		if err != nil {
			return nil, fmt.Errorf("bad AWS:SourceIp %q", *ipc.SourceIp)
		}
		if !req.IP.IsValid() || !prefix.Contains(req.IP.Unmap()) {
			return nil, fmt.Errorf("IP %s is not in %s", req.IP, prefix)
		}
	}
	return policyJSON, nil
}

// wildcardMatch matches s against a CloudFront resource pattern: '*' is
// any run of characters (also none), '?' exactly one; case-sensitive.
func wildcardMatch(pattern, s string) bool {
	// dynamic programming over pattern positions
	match := make([]bool, len(pattern)+1)
	match[0] = true
	for i := 0; i < len(pattern) && pattern[i] == '*'; i++ {
		match[i+1] = true
	}
	for j := 0; j < len(s); j++ {
		next := make([]bool, len(pattern)+1)
		for i := 0; i < len(pattern); i++ {
			switch pattern[i] {
			case '*':
				next[i+1] = next[i] || match[i+1]
			case '?':
				next[i+1] = match[i]
			default:
				next[i+1] = match[i] && pattern[i] == s[j]
			}
		}
		match = next
	}
	return match[len(pattern)]
}

// wildcardCases are patterns and URLs with whether CloudFront's wildcards
// match them.
var wildcardCases = []struct {
	p, s string
	want bool
}{
	{"*", "", true},
	{"*", "https://a/b", true},
	{"https://a/b/*", "https://a/b/c/d", true},
	{"https://a/b/*", "https://a/b/", true},
	{"https://a/b/*", "https://a/b", false},
	{"https://a/b/*", "https://a/bc/d", false},
	{"https://a/?.txt", "https://a/x.txt", true},
	{"https://a/?.txt", "https://a/xy.txt", false},
	{"http*://a/*", "https://a/x", true},
	{"https://a/x", "https://a/X", false},
	{"https://a/*/z", "https://a/x/y/z", true},
	{"a*b*c", "aXbYbZc", true},
	{"a*b*c", "aXbYcZ", false},
	{"**", "x", true},
	{"?", "", false},
	{"", "", true},
	{"", "x", false},
}

func TestWildcardMatch(t *testing.T) {
	for _, c := range wildcardCases {
		if got := wildcardMatch(c.p, c.s); got != c.want {
			t.Errorf("wildcardMatch(%q, %q) = %v", c.p, c.s, got)
		}
	}
}

// TestVerifierAcceptsBotocore: the verifier accepts URLs that botocore's
// CloudFrontSigner made (Debian python3-botocore 1.29.27 with the
// `cryptography` package, systest/testdata/cloudfront_botocore.py, expiry
// cfTestExpires) where ours cannot be byte-equal to botocore's: IP-bound
// custom policies (botocore writes DateLessThan before IpAddress) and ECDSA
// signatures (randomized in botocore); and refuses them from another IP or
// after their expiry. So the verifier the unit tests trust agrees with an
// independent signer. (systest's TestCloudFrontBotocore cross-checks the
// URLs Caddy hands out with botocore live.)
func TestVerifierAcceptsBotocore(t *testing.T) {
	for _, c := range []struct {
		name, pub, ip, url string
	}{
		{"RSA, IPv4", cfRSAPublic, "203.0.113.7", "https://d111111abcdef8.cloudfront.net/reports/q1.pdf?Policy=eyJTdGF0ZW1lbnQiOlt7IlJlc291cmNlIjoiaHR0cHM6Ly9kMTExMTExYWJjZGVmOC5jbG91ZGZyb250Lm5ldC9yZXBvcnRzL3ExLnBkZiIsIkNvbmRpdGlvbiI6eyJEYXRlTGVzc1RoYW4iOnsiQVdTOkVwb2NoVGltZSI6MTc2NzIyOTIwMH0sIklwQWRkcmVzcyI6eyJBV1M6U291cmNlSXAiOiIyMDMuMC4xMTMuNy8zMiJ9fX1dfQ__&Signature=n3Qy~L7Q~zkrNCLrtzJKHI4Owqt5bbXFOhuvM21HbRfYacDYDN-i2CJnXsLmy7hu4pGwNxnqoOiWKEXbl7EcqFRUenWZtgO9YMtSfeclL4~yv8DbU8A-XDWHtyvBPqwFrQ-NjxHDG1EgRwlJNBUiHdtw~BK2YpUqmFmE9~CuTDoFTVVVKc~s2Yg8X6Dchg~nVAtaCQrofNdHDyP9Fimzrk48hwUgwA3ddsGpIZ0UGWKnBSGmBzzLXnIVdRKNsD242ZbC2Q9bON6eold2UavAtH95XOCaR5fZufNRNna2Gvdqhh~wj2V8iMp7OZphOJ1ESYLXC~MnivAz1abZyOPM-A__&Key-Pair-Id=K2JCJMDEHXQW5F"},
		{"RSA, IPv6 and resource", cfRSAPublic, "2001:db8::7", "https://d111111abcdef8.cloudfront.net/results/experiment.zarr/0.0?Policy=eyJTdGF0ZW1lbnQiOlt7IlJlc291cmNlIjoiaHR0cHM6Ly9kMTExMTExYWJjZGVmOC5jbG91ZGZyb250Lm5ldC9yZXN1bHRzL2V4cGVyaW1lbnQuemFyci8qIiwiQ29uZGl0aW9uIjp7IkRhdGVMZXNzVGhhbiI6eyJBV1M6RXBvY2hUaW1lIjoxNzY3MjI5MjAwfSwiSXBBZGRyZXNzIjp7IkFXUzpTb3VyY2VJcCI6IjIwMDE6ZGI4Ojo3LzEyOCJ9fX1dfQ__&Signature=l~oo6zlvvIwkQRoRrfXaWR~pdvH9rLiwC9-uSMWuGtzX4yscBw~EanrXnMGe3tqCP5Sf09U4kuJ2~hOhSctJum0c7TsKowZPD7OtzAOUtFKrrfrRvX5oBXKXUK9xs6qVV-KBo0tf1OZrsh~f~RxNJyTGWv7baE1v26vDwCdEOQ~cukKf6aSnWZjAQGbcQbpQIEqh5nss0ygDW-ZDzexpsc-6rccjH19ShJaCWYdxMV9iQCuJnSVBuILTthPQQo7eYiuVBflhf5mCN4ynVPu-zNj6fd~V-y~A4pT5eY-NLmISwEyGcn16~JKNlIWhZm5U2Xpwd0VWGTMCqn1f2c9lgA__&Key-Pair-Id=K2JCJMDEHXQW5F"},
		{"ECDSA, canned", cfECPublic, "", "https://d111111abcdef8.cloudfront.net/images/cat.jpg?Expires=1767229200&Signature=MEQCIFDM62ticNrvuKSDS4XUPNcQSQ1l9hrQ8yitFWAI38X9AiANVbLpzT7G8xfHhEQeCR58ImoEaHZVNOC-UfZr5nDH4A__&Key-Pair-Id=K2JCJMDEHXQW5F"},
		{"ECDSA, IPv4 and resource", cfECPublic, "198.51.100.1", "https://d111111abcdef8.cloudfront.net/results/experiment.zarr/.zattrs?Policy=eyJTdGF0ZW1lbnQiOlt7IlJlc291cmNlIjoiaHR0cHM6Ly9kMTExMTExYWJjZGVmOC5jbG91ZGZyb250Lm5ldC9yZXN1bHRzL2V4cGVyaW1lbnQuemFyci8qIiwiQ29uZGl0aW9uIjp7IkRhdGVMZXNzVGhhbiI6eyJBV1M6RXBvY2hUaW1lIjoxNzY3MjI5MjAwfSwiSXBBZGRyZXNzIjp7IkFXUzpTb3VyY2VJcCI6IjE5OC41MS4xMDAuMS8zMiJ9fX1dfQ__&Signature=MEUCIE8pdZ0M0rc5hBk9wqXdlCHpEguS-t102gY-eIVY3oG2AiEAxESGOW7smIVWUPzAQmAoWxMXKoOXWTz9SCj6CUuR0QY_&Key-Pair-Id=K2JCJMDEHXQW5F"},
	} {
		v := &cfVerifier{keyID: cfTestKeyID, pub: loadPublicKey(t, c.pub)}
		ip, _ := netip.ParseAddr(c.ip)
		if _, err := v.check(cfRequest{URL: c.url, Time: cfSignTime, IP: ip}); err != nil {
			t.Errorf("%s: the verifier refuses botocore's URL: %v", c.name, err)
		}
		if _, err := v.check(cfRequest{URL: c.url, Time: time.Unix(cfTestExpires+1, 0), IP: ip}); err == nil {
			t.Errorf("%s: the verifier accepts botocore's URL after its expiry", c.name)
		}
		if c.ip != "" {
			if _, err := v.check(cfRequest{URL: c.url, Time: cfSignTime, IP: netip.MustParseAddr("192.0.2.99")}); err == nil {
				t.Errorf("%s: the verifier accepts botocore's URL from another IP", c.name)
			}
		}
	}
}
