package cloudfront

import (
	"crypto"
	"net/netip"
	"testing"
	"time"

	"github.com/caddy-presign/presign/internal/cfverify"
)

// loadPublicKey reads a PEM public key from testdata.
func loadPublicKey(t testing.TB, file string) crypto.PublicKey {
	t.Helper()
	pub, err := cfverify.LoadPublicKey(file)
	if err != nil {
		t.Fatal(err)
	}
	return pub
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
		if got := cfverify.WildcardMatch(c.p, c.s); got != c.want {
			t.Errorf("WildcardMatch(%q, %q) = %v", c.p, c.s, got)
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
		v := &cfverify.Verifier{KeyID: cfTestKeyID, Pub: loadPublicKey(t, c.pub)}
		ip, _ := netip.ParseAddr(c.ip)
		if _, err := v.Check(cfverify.Request{URL: c.url, Time: cfSignTime, IP: ip}); err != nil {
			t.Errorf("%s: the verifier refuses botocore's URL: %v", c.name, err)
		}
		if _, err := v.Check(cfverify.Request{URL: c.url, Time: time.Unix(cfTestExpires+1, 0), IP: ip}); err == nil {
			t.Errorf("%s: the verifier accepts botocore's URL after its expiry", c.name)
		}
		if c.ip != "" {
			if _, err := v.Check(cfverify.Request{URL: c.url, Time: cfSignTime, IP: netip.MustParseAddr("192.0.2.99")}); err == nil {
				t.Errorf("%s: the verifier accepts botocore's URL from another IP", c.name)
			}
		}
	}
}
