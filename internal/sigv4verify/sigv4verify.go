// Package sigv4verify is the tests' independent verifier of AWS Signature
// Version 4 as S3 checks it, written from AWS's documentation ("Signature
// Version 4 signing process", "Authenticating Requests: Using Query
// Parameters", "Browser-Based Uploads Using POST"), not from the signer:
// it shares no code with the signer under test. It checks presigned URLs,
// requests signed in the Authorization header (the S3 API calls Caddy
// makes itself) and POST policy forms.
package sigv4verify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-presign/presign/internal/postpolicy"
)

// Keys are the credentials a store knows: secret access keys by access
// key ID.
type Keys map[string]string

// Signed is what a verified signature covers.
type Signed struct {
	Method, Path string // the method and the escaped path signed
	AccessKey    string
	Date         time.Time
	Expires      time.Duration // presigned URLs only
}

const algorithm = "AWS4-HMAC-SHA256"

// Request checks r, as the store receives it, signed either in its query
// (a presigned URL) or in its Authorization header, at now.
func (k Keys) Request(r *http.Request, now time.Time) (*Signed, error) {
	if auth := r.Header.Get("Authorization"); auth != "" {
		return k.header(r, auth, now)
	}
	return k.query(r, now)
}

// URL checks a presigned URL sent with method and the extra headers
// (besides Host) its client sends, at now.
func (k Keys) URL(method, raw string, headers map[string]string, now time.Time) (*Signed, error) {
	r, err := http.NewRequest(method, raw, nil)
	if err != nil {
		return nil, err
	}
	for n, v := range headers {
		r.Header.Set(n, v)
	}
	return k.query(r, now)
}

func (k Keys) query(r *http.Request, now time.Time) (*Signed, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, err
	}
	for n, v := range q {
		if len(v) != 1 {
			return nil, fmt.Errorf("parameter %s %d times", n, len(v))
		}
	}
	if q.Get("X-Amz-Algorithm") != algorithm {
		return nil, errors.New("not a SigV4 presigned URL")
	}
	exp, err := strconv.Atoi(q.Get("X-Amz-Expires"))
	if err != nil || exp < 1 || exp > 7*24*3600 {
		return nil, errors.New("X-Amz-Expires is not 1 s to 7 days")
	}
	s, err := k.check(r, q.Get("X-Amz-Credential"), q.Get("X-Amz-Date"), q.Get("X-Amz-SignedHeaders"), q.Get("X-Amz-Signature"),
		"UNSIGNED-PAYLOAD", "X-Amz-Signature")
	if err != nil {
		return nil, err
	}
	s.Expires = time.Duration(exp) * time.Second
	if now.Before(s.Date.Add(-time.Minute)) || !now.Before(s.Date.Add(s.Expires)) {
		return nil, errors.New("request has expired or is not yet valid")
	}
	return s, nil
}

func (k Keys) header(r *http.Request, auth string, now time.Time) (*Signed, error) {
	rest, ok := strings.CutPrefix(auth, algorithm+" ")
	if !ok {
		return nil, errors.New("not a SigV4 Authorization header")
	}
	f := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		n, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		f[n] = v
	}
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" {
		return nil, errors.New("no x-amz-content-sha256")
	}
	s, err := k.check(r, f["Credential"], r.Header.Get("X-Amz-Date"), f["SignedHeaders"], f["Signature"], payload, "")
	if err != nil {
		return nil, err
	}
	if d := now.Sub(s.Date); d > 15*time.Minute || d < -15*time.Minute {
		return nil, errors.New("request time too skewed")
	}
	return s, nil
}

// check rebuilds the canonical request and the string to sign, and
// compares the signature.
func (k Keys) check(r *http.Request, credential, date, signedHeaders, signature, payload, skip string) (*Signed, error) {
	parts := strings.Split(credential, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" {
		return nil, errors.New("malformed credential")
	}
	secret, ok := k[parts[0]]
	if !ok {
		return nil, fmt.Errorf("unknown access key %q", parts[0])
	}
	t, err := time.Parse("20060102T150405Z", date)
	if err != nil || parts[1] != t.Format("20060102") {
		return nil, errors.New("bad date or credential scope")
	}
	var pairs []string
	for _, kv := range strings.Split(r.URL.RawQuery, "&") {
		if kv == "" {
			continue
		}
		n, v, _ := strings.Cut(kv, "=")
		name, err1 := url.QueryUnescape(n)
		value, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return nil, errors.New("bad query encoding")
		}
		if name == skip {
			continue
		}
		pairs = append(pairs, enc(name)+"="+enc(value))
	}
	sort.Strings(pairs)
	var canonHeaders strings.Builder
	names := strings.Split(signedHeaders, ";")
	if !sort.StringsAreSorted(names) || !contains(names, "host") {
		return nil, errors.New("signed headers unsorted or without host")
	}
	for _, n := range names {
		v := r.Header.Get(n)
		if n == "host" {
			v = r.Host
			if v == "" {
				v = r.URL.Host
			}
		}
		canonHeaders.WriteString(n + ":" + strings.Join(strings.Fields(v), " ") + "\n")
	}
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	cr := r.Method + "\n" + path + "\n" + strings.Join(pairs, "&") + "\n" + canonHeaders.String() + "\n" + signedHeaders + "\n" + payload
	h := sha256.Sum256([]byte(cr))
	sts := algorithm + "\n" + date + "\n" + strings.Join(parts[1:], "/") + "\n" + hex.EncodeToString(h[:])
	want := hex.EncodeToString(mac(signingKey(secret, parts[1], parts[2], parts[3]), sts))
	if !hmac.Equal([]byte(want), []byte(signature)) {
		return nil, errors.New("SignatureDoesNotMatch")
	}
	return &Signed{Method: r.Method, Path: path, AccessKey: parts[0], Date: t}, nil
}

// Form checks a POST policy form's fields at now: the signature of the
// policy, its expiration, and that every field but the policy and the
// signature is one of its conditions.
func (k Keys) Form(fields map[string]string, now time.Time) error {
	parts := strings.Split(fields["x-amz-credential"], "/")
	if fields["x-amz-algorithm"] != algorithm || len(parts) != 5 {
		return errors.New("not a SigV4 POST form")
	}
	secret, ok := k[parts[0]]
	if !ok {
		return fmt.Errorf("unknown access key %q", parts[0])
	}
	want := hex.EncodeToString(mac(signingKey(secret, parts[1], parts[2], parts[3]), fields["policy"]))
	if !hmac.Equal([]byte(want), []byte(fields["x-amz-signature"])) {
		return errors.New("SignatureDoesNotMatch")
	}
	return postpolicy.Covers(fields, now, "x-amz-signature")
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func enc(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(url.QueryEscape(s), "+", "%20"), "%7E", "~")
}

func mac(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

func signingKey(secret, day, region, service string) []byte {
	k := mac([]byte("AWS4"+secret), day)
	k = mac(k, region)
	k = mac(k, service)
	return mac(k, "aws4_request")
}
