package signers

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/caddy-presign/presign/internal/testenv"
)

// botocoreJob is one job for testdata/cloudfront_botocore.py.
type botocoreJob struct {
	Op        string `json:"op"`
	Key       string `json:"key,omitempty"`
	KeyID     string `json:"key_id,omitempty"`
	URL       string `json:"url,omitempty"`
	Expires   int64  `json:"expires,omitempty"`
	Resource  string `json:"resource,omitempty"`
	IP        string `json:"ip,omitempty"`
	Pub       string `json:"pub,omitempty"`
	Policy    string `json:"policy,omitempty"`
	Signature string `json:"signature,omitempty"`
}

type botocoreResult struct {
	URL    string `json:"url"`
	Policy string `json:"policy"`
	OK     bool   `json:"ok"`
}

// runBotocore runs the jobs through botocore's CloudFrontSigner and the
// `cryptography` package with Debian's /usr/bin/python3 -I.
func runBotocore(t *testing.T, jobs []botocoreJob) []botocoreResult {
	t.Helper()
	py := testenv.Python(t)
	if out, err := exec.Command(py, "-I", "-c", "import cryptography.hazmat.primitives.asymmetric.ec").CombinedOutput(); err != nil {
		testenv.Missing(t, "%s cannot import cryptography (Debian package python3-cryptography): %v: %s", py, err, out)
	}
	in, err := json.Marshal(jobs)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "-I", "testdata/cloudfront_botocore.py")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cloudfront_botocore.py: %v\n%s", err, stderr.String())
	}
	var res []botocoreResult
	if err := json.Unmarshal(out, &res); err != nil || len(res) != len(jobs) {
		t.Fatalf("cloudfront_botocore.py answered %s (%v)", out, err)
	}
	return res
}

// cfQueryParam is one raw (still escaped) query parameter of a URL.
func cfQueryParam(t testing.TB, u, name string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range strings.Split(p.RawQuery, "&") {
		if n, v, _ := strings.Cut(kv, "="); n == name {
			return v
		}
	}
	t.Fatalf("no %s in %s", name, u)
	return ""
}

// TestCloudFrontBotocore cross-checks the signer with an independent
// implementation, botocore's CloudFrontSigner:
//
//   - canned policies (plain key, spaces and unicode, a domain with a path
//     prefix) and a custom policy with a wildcard resource: byte-equal URLs
//     (RSA PKCS #1 v1.5 is deterministic);
//   - IP-bound custom policies: botocore writes the conditions in another
//     order (DateLessThan before IpAddress; the AWS SDK for Go, which we use,
//     writes IpAddress first; CloudFront verifies the policy as sent, so both
//     are valid), so the URLs differ and each side verifies the other's
//     signature instead;
//   - ECDSA P-256: botocore's signatures (randomized, via cryptography) pass
//     our verifier, and ours (RFC 6979) pass cryptography's.
func TestCloudFrontBotocore(t *testing.T) {
	type cse struct {
		name, domain, key, resource, ip, keyFile, pubFile string
	}
	cases := []cse{
		{"canned", cfTestDomain, "images/cat.jpg", "", "", cfRSAPKCS1, cfRSAPublic},
		{"canned unicode", cfTestDomain, "dir/a b/ünï 日本 (1).txt", "", "", cfRSAPKCS8, cfRSAPublic},
		{"canned odd bytes", cfTestDomain, "q/c+d=e&f;g 'h'~!*$@,.txt", "", "", cfRSAPKCS1, cfRSAPublic},
		{"canned prefix", "https://cdn.example.com/media", "videos/intro.mp4", "", "", cfRSAPKCS1, cfRSAPublic},
		{"custom wildcard", cfTestDomain, "results/experiment.zarr/.zattrs", wildcardResource, "", cfRSAPKCS1, cfRSAPublic},
		{"custom IPv4", cfTestDomain, "reports/q1.pdf", "", "203.0.113.7", cfRSAPKCS1, cfRSAPublic},
		{"custom IPv6 and resource", cfTestDomain, "results/experiment.zarr/0.0", wildcardResource, "2001:db8::7", cfRSAPKCS1, cfRSAPublic},
		{"ecdsa canned", cfTestDomain, "images/cat.jpg", "", "", cfECSEC1, cfECPublic},
		{"ecdsa custom IPv4", cfTestDomain, "results/experiment.zarr/.zattrs", wildcardResource, "198.51.100.1", cfECPKCS8, cfECPublic},
	}
	var ours []*Signed
	var jobs []botocoreJob
	for _, c := range cases {
		cf := newCloudFront(t, func(cf *CloudFront) { cf.Domain, cf.PrivateKeyFile = c.domain, c.keyFile })
		var ip netip.Addr
		var cidr string
		if c.ip != "" {
			ip = netip.MustParseAddr(c.ip)
			cidr = netip.PrefixFrom(ip, ip.BitLen()).String()
		}
		s := cfSign(t, cf, c.key, Options{Resource: c.resource, BindClientIP: c.ip != ""}, c.resource, ip)
		ours = append(ours, s)
		unsigned := strings.SplitN(s.URL, "?", 2)[0]
		jobs = append(jobs, botocoreJob{Op: "sign", Key: c.keyFile, KeyID: cfTestKeyID, URL: unsigned,
			Expires: cfTestExpires, Resource: c.resource, IP: cidr})
	}
	res := runBotocore(t, jobs)

	var verifyJobs []botocoreJob
	for i, c := range cases {
		s, theirs := ours[i], res[i].URL
		v := &cfVerifier{keyID: cfTestKeyID, pub: loadPublicKey(t, c.pubFile)}
		req := func(u string) cfRequest {
			ip, _ := netip.ParseAddr(c.ip)
			return cfRequest{URL: u, Time: cfSignTime, IP: ip}
		}
		ourPolicy, err := v.check(req(s.URL))
		if err != nil {
			t.Errorf("%s: our URL fails the verifier: %v", c.name, err)
		}
		if _, err := v.check(req(theirs)); err != nil {
			t.Errorf("%s: botocore's URL %s fails the verifier: %v", c.name, theirs, err)
		}
		bytewise := c.ip == "" && c.pubFile == cfRSAPublic
		if bytewise && s.URL != theirs {
			t.Errorf("%s:\n ours     %s\n botocore %s", c.name, s.URL, theirs)
		}
		if bytewise && string(ourPolicy) != res[i].Policy {
			t.Errorf("%s: policy\n ours     %s\n botocore %s", c.name, ourPolicy, res[i].Policy)
		}
		if !bytewise {
			verifyJobs = append(verifyJobs, botocoreJob{Op: "verify", Pub: c.pubFile, Policy: string(ourPolicy), Signature: cfQueryParam(t, s.URL, "Signature")})
		}
	}
	// cryptography verifies our signatures where the URLs cannot be equal,
	// and refuses a policy we did not sign
	tampered := verifyJobs[0]
	tampered.Policy = strings.Replace(tampered.Policy, "1767229200", "1767229201", 1)
	verifyJobs = append(verifyJobs, tampered)
	vres := runBotocore(t, verifyJobs)
	for i, r := range vres[:len(vres)-1] {
		if !r.OK {
			t.Errorf("cryptography refuses our signature of %s", verifyJobs[i].Policy)
		}
	}
	if vres[len(vres)-1].OK {
		t.Errorf("cryptography accepts a tampered policy: the check is void")
	}
	if time.Unix(cfTestExpires, 0).Sub(cfSignTime) != time.Hour {
		t.Fatal("test constants disagree")
	}
}
