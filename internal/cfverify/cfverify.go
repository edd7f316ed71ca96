// Package cfverify is the tests' independent verifier of CloudFront signed
// URLs and signed cookies, written from CloudFront's documentation
// (Developer Guide: "Create a signed URL using a canned policy", "... using
// a custom policy", "Set signed cookies using a canned/custom policy", "Use
// Linux commands and OpenSSL for base64 encoding and encryption", "Code
// examples for creating a signature for a signed URL" for SHA-256 and its
// Hash-Algorithm=SHA256 parameter), not from the signer: it shares no code
// with the signer under test. The cloudfront kind's tests
// (signers/cloudfront) and the system tests use it.
package cfverify

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
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
	"time"
)

// Verifier checks what CloudFront checks for a distribution whose trusted
// key group holds one public key.
type Verifier struct {
	KeyID string
	Pub   crypto.PublicKey
}

// Request is one viewer request as CloudFront sees it: the URL as sent
// (with the signing parameters in the query for a signed URL), the cookies
// (for signed cookies), the time and the viewer's IP.
type Request struct {
	URL     string
	Cookies []*http.Cookie
	Time    time.Time
	IP      netip.Addr
}

// LoadPublicKey reads a PEM public key file.
func LoadPublicKey(file string) (crypto.PublicKey, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("%s: no PUBLIC KEY block", file)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	return pub, nil
}

// Decode undoes CloudFront's URL-safe base64: '-' '_' '~' stand for
// '+' '=' '/'.
func Decode(s string) ([]byte, error) {
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

// Check returns nil when CloudFront would serve req, or why it would not.
// It also returns the policy JSON it verified.
func (v *Verifier) Check(req Request) (policyJSON []byte, err error) {
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
	// SHA-1 unless Hash-Algorithm (CloudFront-Hash-Algorithm) says SHA256
	hash := crypto.SHA1
	switch params["Hash-Algorithm"] {
	case "":
	case "SHA256":
		hash = crypto.SHA256
	default:
		return nil, fmt.Errorf("unknown Hash-Algorithm %q", params["Hash-Algorithm"])
	}
	if params["Key-Pair-Id"] != v.KeyID {
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
			return nil, fmt.Errorf("the Expires parameter %q is not a Unix time", expires)
		}
		// the canned policy statement, exactly as documented, for the URL
		// that was requested
		policyJSON = []byte(`{"Statement":[{"Resource":"` + base + `","Condition":{"DateLessThan":{"AWS:EpochTime":` + expires + `}}}]}`)
	case custom:
		if policyJSON, err = Decode(policyB64); err != nil {
			return nil, fmt.Errorf("Policy is not CloudFront base64: %v", err)
		}
	default:
		return nil, errors.New("neither Expires nor Policy")
	}

	if err := v.verify(policyJSON, params["Signature"], hash); err != nil {
		return nil, err
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
	if !WildcardMatch(resource, base) {
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

// WildcardMatch matches s against a CloudFront resource pattern: '*' is
// any run of characters (also none), '?' exactly one; case-sensitive.
func WildcardMatch(pattern, s string) bool {
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

// verify checks the signature (CloudFront base64) of policyJSON: over its
// SHA-1 or SHA-256 digest (hash) with RSA PKCS #1 v1.5 or ECDSA (DER), as
// CloudFront documents.
func (v *Verifier) verify(policyJSON []byte, signature string, hash crypto.Hash) error {
	sig, err := Decode(signature)
	if err != nil || len(sig) == 0 {
		return errors.New("the Signature parameter is not CloudFront base64")
	}
	var digest []byte
	if hash == crypto.SHA256 {
		d := sha256.Sum256(policyJSON)
		digest = d[:]
	} else {
		d := sha1.Sum(policyJSON)
		digest = d[:]
	}
	switch pub := v.Pub.(type) {
	case *rsa.PublicKey:
		if rsa.VerifyPKCS1v15(pub, hash, digest, sig) != nil {
			return errors.New("bad signature")
		}
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, digest, sig) {
			return errors.New("bad signature")
		}
	default:
		return fmt.Errorf("key type %T", v.Pub)
	}
	return nil
}

// Policy decodes a custom policy (CloudFront base64) and checks its
// signature over its SHA-1 digest; the policy JSON is returned even when
// the signature is bad.
func (v *Verifier) Policy(policy, signature string) ([]byte, error) {
	policyJSON, err := Decode(policy)
	if err != nil {
		return nil, fmt.Errorf("Policy is not CloudFront base64: %v", err)
	}
	return policyJSON, v.verify(policyJSON, signature, crypto.SHA1)
}
