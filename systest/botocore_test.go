package systest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os/exec"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/caddy-presign/presign/systest/harness"
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
	py := harness.Python(t, "cryptography.hazmat.primitives.asymmetric.ec")
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

// epochRe finds a policy's expiry.
var epochRe = regexp.MustCompile(`"AWS:EpochTime":(\d+)`)

// samePolicy reports whether two policies (JSON) say the same, whatever the
// order of their keys.
func samePolicy(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatalf("policy %s: %v", a, err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatalf("policy %s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

// cfQuery is the raw (still escaped) query of a URL, by name.
func cfQuery(t *testing.T, u string) map[string]string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, kv := range strings.Split(p.RawQuery, "&") {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// TestCloudFrontBotocore cross-checks the URLs Caddy hands out for
// CloudFront profiles with an independent implementation, botocore's
// CloudFrontSigner, given the same URL, expiry, resource and client IP:
//
//   - canned policies (plain key, spaces and unicode, odd bytes, a domain
//     with a path prefix; the key in PKCS #1 and PKCS #8) and a custom
//     policy with a wildcard resource: byte-equal URLs (RSA PKCS #1 v1.5 is
//     deterministic);
//   - IP-bound custom policies (bind_client_ip, the client IP from
//     X-Forwarded-For of a trusted proxy): botocore writes the conditions
//     in another order (CloudFront verifies the policy as sent, so both are
//     valid), so the policies say the same (resource, expiry, IP) and
//     `cryptography` verifies our signature instead;
//   - ECDSA P-256 (randomized in botocore, RFC 6979 here): our canned
//     policy is botocore's byte for byte, and cryptography verifies our
//     signatures, and refuses a policy we did not sign.
func TestCloudFrontBotocore(t *testing.T) {
	harness.Python(t, "cryptography.hazmat.primitives.asymmetric.ec") // before anything starts
	const (
		keyID    = "K2JCJMDEHXQW5F"
		dist     = "d111111abcdef8.cloudfront.net"
		wildcard = "https://" + dist + "/results/experiment.zarr/*"
	)
	key := func(name string) string {
		return harness.RepoPath("signers/cloudfront/testdata/cloudfront-" + name + ".pem")
	}
	profile := func(name, domain, keyName string) string {
		return `profile ` + name + ` cloudfront {
			domain ` + domain + `
			key_pair_id ` + keyID + `
			private_key_file ` + key(keyName) + `
		}
		`
	}
	rule := func(prefix, profile string, extra ...string) string {
		return `rule /` + prefix + `/* {
			profile ` + profile + `
			strip_prefix /` + prefix + `
			` + strings.Join(extra, "\n\t\t\t") + `
		}
		`
	}
	base := loadSite(t, `presign {
		`+profile("rsa1", dist, "rsa-pkcs1")+profile("rsa8", dist, "rsa-pkcs8")+
		profile("prefix", "https://cdn.example.com/media", "rsa-pkcs1")+
		profile("ec1", dist, "ec-sec1")+profile("ec8", dist, "ec-pkcs8")+
		rule("rsa1", "rsa1")+rule("rsa8", "rsa8")+rule("prefix", "prefix")+
		rule("wild", "rsa1", "resource "+wildcard)+
		rule("ip", "rsa1", "bind_client_ip")+
		rule("ipwild", "rsa1", "resource "+wildcard, "bind_client_ip")+
		rule("ec", "ec1")+
		rule("ecip", "ec8", "resource "+wildcard, "bind_client_ip")+`
	}`, "servers {\n\t\ttrusted_proxies static 127.0.0.1/32\n\t}")

	cases := []struct {
		name, path, key, resource, ip, keyFile, pubFile string
	}{
		{"canned", "/rsa1/", "images/cat.jpg", "", "", "rsa-pkcs1", "rsa-public"},
		{"canned unicode", "/rsa8/", "dir/a b/ünï 日本 (1).txt", "", "", "rsa-pkcs8", "rsa-public"},
		{"canned odd bytes", "/rsa1/", "q/c+d=e&f;g 'h'~!*$@,.txt", "", "", "rsa-pkcs1", "rsa-public"},
		{"canned prefix", "/prefix/", "videos/intro.mp4", "", "", "rsa-pkcs1", "rsa-public"},
		{"custom wildcard", "/wild/", "results/experiment.zarr/.zattrs", wildcard, "", "rsa-pkcs1", "rsa-public"},
		{"custom IPv4", "/ip/", "reports/q1.pdf", "", "203.0.113.7", "rsa-pkcs1", "rsa-public"},
		{"custom IPv6 and resource", "/ipwild/", "results/experiment.zarr/0.0", wildcard, "2001:db8::7", "rsa-pkcs1", "rsa-public"},
		{"ecdsa canned", "/ec/", "images/cat.jpg", "", "", "ec-sec1", "ec-public"},
		{"ecdsa custom IPv4", "/ecip/", "results/experiment.zarr/.zattrs", wildcard, "198.51.100.1", "ec-pkcs8", "ec-public"},
	}
	var ours []string
	var jobs []botocoreJob
	for _, c := range cases {
		var mods []func(*http.Request)
		cidr := ""
		if c.ip != "" {
			mods = append(mods, func(r *http.Request) { r.Header.Set("X-Forwarded-For", c.ip) })
			cidr = c.ip + "/32"
			if strings.Contains(c.ip, ":") {
				cidr = c.ip + "/128"
			}
		}
		u := location(t, http.StatusFound, "GET", base+pathFor(c.path, c.key), mods...)
		q := cfQuery(t, u)
		expiry := q["Expires"]
		if m := epochRe.FindSubmatch(cfDecode(t, q["Policy"])); expiry == "" && m != nil {
			expiry = string(m[1])
		}
		expires, err := strconv.ParseInt(expiry, 10, 64)
		if err != nil {
			t.Fatalf("%s: no expiry in %s", c.name, u)
		}
		ours = append(ours, u)
		jobs = append(jobs, botocoreJob{
			Op: "sign", Key: key(c.keyFile), KeyID: keyID, URL: strings.SplitN(u, "?", 2)[0],
			Expires: expires, Resource: c.resource, IP: cidr,
		})
	}
	res := runBotocore(t, jobs)

	var verifyJobs []botocoreJob
	for i, c := range cases {
		u, theirs := ours[i], res[i]
		q := cfQuery(t, u)
		policy := theirs.Policy // canned: the policy is implied, and botocore's
		if q["Policy"] != "" {
			policy = string(cfDecode(t, q["Policy"]))
		}
		bytewise := c.ip == "" && strings.HasPrefix(c.keyFile, "rsa")
		switch {
		case bytewise && u != theirs.URL:
			t.Errorf("%s:\n ours     %s\n botocore %s", c.name, u, theirs.URL)
		case bytewise && policy != theirs.Policy:
			t.Errorf("%s: policy\n ours     %s\n botocore %s", c.name, policy, theirs.Policy)
		}
		if !samePolicy(t, policy, theirs.Policy) || (c.ip != "") != strings.Contains(policy, `"AWS:SourceIp":"`+jobs[i].IP+`"`) {
			t.Errorf("%s: our policy and botocore's differ:\n ours     %s\n botocore %s", c.name, policy, theirs.Policy)
		}
		verifyJobs = append(verifyJobs, botocoreJob{Op: "verify", Pub: key(c.pubFile), Policy: policy, Signature: q["Signature"]})
	}
	// cryptography verifies our signatures, and refuses a policy we did not
	// sign
	tampered := verifyJobs[len(verifyJobs)-1]
	tampered.Policy = strings.Replace(tampered.Policy, `"AWS:EpochTime":`, `"AWS:EpochTime":1`, 1)
	verifyJobs = append(verifyJobs, tampered)
	vres := runBotocore(t, verifyJobs)
	for i, r := range vres[:len(vres)-1] {
		if !r.OK {
			t.Errorf("%s: cryptography refuses our signature of %s", cases[i].name, verifyJobs[i].Policy)
		}
	}
	if vres[len(vres)-1].OK {
		t.Errorf("cryptography accepts a tampered policy: the check is void")
	}
}

// cfDecode undoes CloudFront's base64 ('-' '_' '~' for '+' '=' '/').
func cfDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(strings.NewReplacer("-", "+", "_", "=", "~", "/").Replace(s))
	if err != nil {
		t.Fatalf("%q is not CloudFront base64: %v", s, err)
	}
	return b
}
