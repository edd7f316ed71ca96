package gcsverify

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// TestVerifyPolicyConformance: the verifier accepts each of Google's own
// V4 POST policies (googleapis/conformance-tests, signers/gcs/testdata),
// its form as the case gives it (with the acl its starts-with condition
// asks for, a file within its content-length-range), at the time signed;
// with one signature character changed, or the policy changed, it
// refuses them.
func TestVerifyPolicyConformance(t *testing.T) {
	acct, err := WriteAccount("../../signers/gcs/testdata/service-account", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../../signers/gcs/testdata/v4_signatures.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []struct {
			Description string `json:"description"`
			In          struct {
				Bucket    string    `json:"bucket"`
				Timestamp time.Time `json:"timestamp"`
			} `json:"policyInput"`
			Out struct {
				Fields map[string]string `json:"fields"`
			} `json:"policyOutput"`
		} `json:"postPolicyV4Tests"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) != 11 {
		t.Fatalf("%d POST policy cases, want 11", len(f.Cases))
	}
	for _, c := range f.Cases {
		fields := maps.Clone(c.Out.Fields)
		if strings.Contains(c.Description, "ACL") {
			fields["acl"] = "public-read"
		}
		at := c.In.Timestamp.Add(time.Second)
		if err := VerifyPolicy(acct.Public, acct.Email, c.In.Bucket, fields, 256, at); err != nil {
			t.Errorf("%s: %v", c.Description, err)
		}
		tampered := maps.Clone(fields)
		tampered["x-goog-signature"] = flip(fields["x-goog-signature"])
		if err := VerifyPolicy(acct.Public, acct.Email, c.In.Bucket, tampered, 256, at); err == nil {
			t.Errorf("%s: a tampered signature verifies", c.Description)
		}
		tampered = maps.Clone(fields)
		tampered["policy"] = flip(fields["policy"])
		if err := VerifyPolicy(acct.Public, acct.Email, c.In.Bucket, tampered, 256, at); err == nil {
			t.Errorf("%s: a tampered policy verifies", c.Description)
		}
	}
}

// flip changes the 8th character of s.
func flip(s string) string {
	c := byte('0')
	if s[7] == '0' {
		c = '1'
	}
	return s[:7] + string(c) + s[8:]
}

// TestVerifyPolicy: a form signed over a policy of every kind of
// condition is accepted as signed (and with an x-ignore- field added),
// and refused with Cloud Storage's status and code when its signature is
// tampered or of another key, its credential another account's, its
// policy expired, a field is not the subject of any condition, a field
// fails its condition (a key outside starts-with, another Content-Type,
// another bucket), or the file is outside content-length-range.
func TestVerifyPolicy(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	const email = "uploader@project.iam.gserviceaccount.com"
	now := time.Now().UTC().Truncate(time.Second)
	signed := now.Add(-time.Minute)
	day := signed.Format("20060102")
	// form signs a policy expiring at exp for the fields, with conditions
	// before the x-goog-* ones; edit changes the form after signing.
	form := func(signer *rsa.PrivateKey, exp time.Time, fields map[string]string, conditions ...any) map[string]string {
		t.Helper()
		f := maps.Clone(fields)
		f["x-goog-algorithm"] = "GOOG4-RSA-SHA256"
		f["x-goog-credential"] = email + "/" + day + "/auto/storage/goog4_request"
		f["x-goog-date"] = signed.Format("20060102T150405Z")
		for _, n := range []string{"x-goog-date", "x-goog-credential", "x-goog-algorithm"} {
			conditions = append(conditions, map[string]string{n: f[n]})
		}
		doc, err := json.Marshal(map[string]any{"conditions": conditions, "expiration": exp.Format(time.RFC3339)})
		if err != nil {
			t.Fatal(err)
		}
		f["policy"] = base64.StdEncoding.EncodeToString(doc)
		digest := sha256.Sum256([]byte(f["policy"]))
		sig, err := rsa.SignPKCS1v15(nil, signer, crypto.SHA256, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		f["x-goog-signature"] = hex.EncodeToString(sig)
		return f
	}
	fields := map[string]string{"key": "up/cat.png", "Content-Type": "image/png", "success_action_status": "201"}
	conds := []any{
		map[string]string{"bucket": "media"},
		[]any{"starts-with", "$key", "up/"},
		[]any{"eq", "$Content-Type", "image/png"},
		map[string]string{"success_action_status": "201"},
		[]any{"content-length-range", 1, 1000},
	}
	good := form(key, now.Add(time.Hour), fields, conds...)
	if err := VerifyPolicy(&key.PublicKey, email, "media", good, 100, now); err != nil {
		t.Fatalf("a good form: %v", err)
	}
	with := func(f map[string]string, kv ...string) map[string]string {
		c := maps.Clone(f)
		for i := 0; i < len(kv); i += 2 {
			c[kv[i]] = kv[i+1]
		}
		return c
	}
	if err := VerifyPolicy(&key.PublicKey, email, "media", with(good, "x-ignore-note", "any"), 100, now); err != nil {
		t.Errorf("an x-ignore- field: %v", err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	outside := with(fields, "key", "down/cat.png")
	for _, c := range []struct {
		what   string
		form   map[string]string
		bucket string
		size   int64
		status int
		code   string
	}{
		{"a tampered signature", with(good, "x-goog-signature", flip(good["x-goog-signature"])), "media", 100, http.StatusForbidden, "SignatureDoesNotMatch"},
		{"a tampered policy", with(good, "policy", flip(good["policy"])), "media", 100, http.StatusForbidden, "SignatureDoesNotMatch"},
		{"another key's signature", form(other, now.Add(time.Hour), fields, conds...), "media", 100, http.StatusForbidden, "SignatureDoesNotMatch"},
		{"an expired policy", form(key, now.Add(-time.Second), fields, conds...), "media", 100, http.StatusForbidden, "AccessDenied"},
		{"a policy of 8 days", form(key, signed.Add(8*24*time.Hour), fields, conds...), "media", 100, http.StatusForbidden, "AccessDenied"},
		{"a field without a condition", with(good, "acl", "public-read"), "media", 100, http.StatusForbidden, "AccessDenied"},
		{"a key outside starts-with", form(key, now.Add(time.Hour), outside, conds...), "media", 100, http.StatusForbidden, "AccessDenied"},
		{"another Content-Type", with(good, "Content-Type", "image/svg+xml"), "media", 100, http.StatusForbidden, "AccessDenied"},
		{"Content-Type given twice", with(good, "content-type", "image/png"), "media", 100, http.StatusBadRequest, "InvalidArgument"},
		{"another bucket", good, "other", 100, http.StatusForbidden, "AccessDenied"},
		{"a bucket field naming another", with(good, "bucket", "other"), "media", 100, http.StatusForbidden, "AccessDenied"},
		{"a file over content-length-range", good, "media", 1001, http.StatusBadRequest, "EntityTooLarge"},
		{"an empty file under content-length-range", good, "media", 0, http.StatusBadRequest, "EntityTooSmall"},
		{"no signature", with(good, "x-goog-signature", ""), "media", 100, http.StatusForbidden, "AccessDenied"},
	} {
		err := VerifyPolicy(&key.PublicKey, email, c.bucket, c.form, c.size, now)
		var pe *PolicyError
		if !errors.As(err, &pe) || pe.Status != c.status || pe.Code != c.code {
			t.Errorf("%s: %v, want %d %s", c.what, err, c.status, c.code)
		}
	}
	if err := VerifyPolicy(&key.PublicKey, "someone@else", "media", good, 100, now); err == nil {
		t.Error("another account's credential verifies")
	}
	if err := VerifyPolicy(&key.PublicKey, email, "media", good, 100, now.Add(time.Hour)); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("a form posted after its expiration: %v", err)
	}
	if err := VerifyPolicy(&key.PublicKey, email, "media", with(good, "Content-Type", "image/svg+xml"), 100, now); err == nil ||
		!strings.Contains(err.Error(), `Policy Condition failed: ["eq","$Content-Type","image/png"]`) {
		t.Errorf("another Content-Type: %v, want the condition named", err)
	}
}
