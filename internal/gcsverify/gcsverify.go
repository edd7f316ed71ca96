// Package gcsverify is the tests' independent verifier of Cloud Storage V4
// signatures (GOOG4-RSA-SHA256), of signed URLs and of POST policy forms
// (policy.go), written from Google's documentation ("Signatures" and
// "Canonical requests" of Cloud Storage's V4 signing, "Upload an object
// with HTML forms" of its XML API), not from the signer: it shares no code
// with the signer under test. The gcs kind's tests (signers/gcs) and the
// handler's use it on URLs and forms, the system tests' GCS server on
// every request it serves; signers/gcs's TestGCSVerifierConformance
// checks it against Google's own signed URLs, TestVerifyPolicyConformance
// against Google's own POST policies.
package gcsverify

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Error is a refused signature.
type Error string

func (e Error) Error() string { return string(e) }

// URL checks a V4 signed URL as sent with method and the Content-Type
// contentType (see Request); the host is the URL's, without a default
// port.
func URL(pub *rsa.PublicKey, method, raw, contentType string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	host := u.Host
	if p := u.Port(); p == "443" && u.Scheme == "https" || p == "80" && u.Scheme == "http" {
		host = u.Hostname()
	}
	cr, _, err := Request(pub, method, host, contentType, u.EscapedPath(), u.RawQuery)
	return cr, err
}

// Request checks the signature of a request: the canonical request rebuilt
// from the request alone (method, path as sent, query parameters but
// X-Goog-Signature decoded, RFC 3986-encoded and sorted, the host header
// as given, UNSIGNED-PAYLOAD), its string to sign with the credential's
// scope, and the RSA PKCS #1 v1.5 SHA-256 signature in hex under pub. A
// request with the Content-Type contentType must sign it too ("": none,
// and the signature covers the host header alone); Google canonicalizes a
// header's value trimmed, with runs of spaces as one. It returns the
// canonical request and the decoded query parameters.
func Request(pub *rsa.PublicKey, method, host, contentType, escapedPath, rawQuery string) (string, map[string]string, error) {
	var sig []byte
	var pairs []string
	q := map[string]string{}
	for _, kv := range strings.Split(rawQuery, "&") {
		k, v, _ := strings.Cut(kv, "=")
		name, err1 := url.QueryUnescape(k)
		value, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return "", q, Error("bad query encoding in " + kv)
		}
		if _, dup := q[name]; dup {
			return "", q, Error("parameter " + name + " given twice")
		}
		q[name] = value
		if name == "X-Goog-Signature" {
			var err error
			if sig, err = hex.DecodeString(value); err != nil {
				return "", q, Error("X-Goog-Signature is not hex")
			}
			continue
		}
		enc := func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }
		pairs = append(pairs, enc(name)+"="+enc(value))
	}
	sort.Strings(pairs)
	signed, headers := "host", ""
	if contentType != "" {
		signed, headers = "content-type;host", "content-type:"+strings.Join(strings.Fields(contentType), " ")+"\n"
	}
	if q["X-Goog-Algorithm"] != "GOOG4-RSA-SHA256" || q["X-Goog-SignedHeaders"] != signed || sig == nil {
		return "", q, Error("not a V4 URL signed over the headers " + signed)
	}
	cr := method + "\n" + escapedPath + "\n" + strings.Join(pairs, "&") + "\n" + headers + "host:" + host + "\n\n" + signed + "\nUNSIGNED-PAYLOAD"
	_, scope, ok := strings.Cut(q["X-Goog-Credential"], "/")
	if !ok {
		return cr, q, Error("no credential scope")
	}
	h := sha256.Sum256([]byte(cr))
	sts := "GOOG4-RSA-SHA256\n" + q["X-Goog-Date"] + "\n" + scope + "\n" + hex.EncodeToString(h[:])
	digest := sha256.Sum256([]byte(sts))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
		return cr, q, Error("signature does not verify: " + err.Error())
	}
	return cr, q, nil
}

// Valid checks what a verified request's parameters q say beyond the
// signature: the credential is email's, its scope is the day of
// X-Goog-Date for the region "auto" and the service "storage", and the
// signature is valid at now (not before X-Goog-Date, less than
// X-Goog-Expires seconds after it, at most 7 days).
func Valid(q map[string]string, email string, now time.Time) error {
	date, err := credential(q["X-Goog-Credential"], email, q["X-Goog-Date"])
	if err != nil {
		return err
	}
	exp, err := strconv.ParseInt(q["X-Goog-Expires"], 10, 64)
	if err != nil || exp < 1 || exp > 7*24*3600 {
		return Error("X-Goog-Expires is not a lifetime of 1 s to 7 days")
	}
	if now.Before(date.Add(-time.Minute)) {
		return Error("signed in the future")
	}
	if !now.Before(date.Add(time.Duration(exp) * time.Second)) {
		return Error("expired")
	}
	return nil
}

// credential checks that a credential is email's for the day of the
// signing time date (basic ISO 8601), region "auto", service "storage",
// and returns that time.
func credential(cred, email, date string) (time.Time, error) {
	t, err := time.Parse("20060102T150405Z", date)
	if err != nil {
		return t, Error("the signing date " + date + " is not a basic ISO 8601 time")
	}
	if cred != email+"/"+t.Format("20060102")+"/auto/storage/goog4_request" {
		return t, Error("credential " + cred + " is not the account's for the day signed")
	}
	return t, nil
}

// Tamper returns the signed URL u with one character of its
// X-Goog-Signature changed, which no verifier may accept; u itself when it
// has no signature to change, which verifies no more than u does.
func Tamper(u string) string {
	i := strings.Index(u, "X-Goog-Signature=")
	if i < 0 || len(u) < i+len("X-Goog-Signature=")+8 {
		return u
	}
	i += len("X-Goog-Signature=") + 7
	c := byte('0')
	if u[i] == '0' {
		c = '1'
	}
	return u[:i] + string(c) + u[i+1:]
}
