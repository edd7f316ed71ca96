package gcs

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-presign/presign/internal/gcsverify"
	"github.com/caddy-presign/presign/internal/postpolicy"
	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/signerstest"
)

// TestConformance runs the suite of every kind against Cloud Storage,
// with the independent V4 verifier (gcsverify) and a recording XML API.
// Its key never expires nor fails.
func TestConformance(t *testing.T) {
	conformance(t, func(t *testing.T, g *GCS) *GCS { return newTestGCS(t, g) })
}

// TestConformanceSignBlob runs the suite for a profile without a key,
// which signs through a test IAM Credentials server's signBlob with the
// same account's key.
func TestConformanceSignBlob(t *testing.T) {
	srv, _ := startIAM(t)
	conformance(t, func(t *testing.T, g *GCS) *GCS { return newIAMGCS(t, srv, g) })
}

// conformance runs the suite for the profiles that newProfile provisions,
// which sign as the conformance tests' service account.
func conformance(t *testing.T, newProfile func(t *testing.T, g *GCS) *GCS) {
	key := newTestGCS(t, &GCS{Bucket: "my-bucket"})
	pub, email := &key.key.PublicKey, key.email
	// every call of Caddy's to the store a V4 URL of the account's, for
	// its method and path
	store := signerstest.ListObjectsV2("my-bucket", func(r *http.Request) error {
		_, q, err := gcsverify.Request(pub, r.Method, r.Host, "", r.URL.EscapedPath(), r.URL.RawQuery)
		if err == nil {
			err = gcsverify.Valid(q, email, time.Now())
		}
		return err
	})
	store.ListRefusals = []signerstest.RefusalCase{
		{Status: 400, Code: "InvalidArgument", Want: 400}, // a continuation token the store never issued
		{Status: 400, Code: "InvalidObjectName", Want: 400},
		{Status: 400, Code: "KeyTooLong", Want: 400},
		{Status: 400, Code: "InvalidURI", Want: 400},
		{Status: 400, Code: "ExpiredToken", Want: 502},
		{Status: 400, Code: "InvalidBucketName", Want: 502},
		{Status: 400, Code: "UserProjectMissing", Want: 502},
		{Status: 400, Code: "", Want: 502}, // no store's error: a proxy's
		{Status: 400, Code: "Invalid\nArgument", Want: 502},
		{Status: 401, Code: "AuthenticationRequired", Want: 502},
		{Status: 403, Code: "SignatureDoesNotMatch", Want: 502},
		{Status: 403, Code: "InvalidArgument", Want: 502},
		{Status: 404, Code: "NoSuchBucket", Want: 502},
		{Status: 429, Code: "SlowDown", Want: 502},
		{Status: 500, Code: "InternalError", Want: 502},
		{Status: 503, Code: "ServiceUnavailable", Want: 502},
		{Status: 200, Want: 502}, // an HTML page: no listing
	}
	store.ExistsRefusals = []signerstest.RefusalCase{
		{Status: 200, Want: 200},
		{Status: 200, Want: 502}, // no ETag
		{Status: 404, Want: 404},
		{Status: 400, Want: 502}, // a HEAD's 400 names no code
		{Status: 403, Want: 502},
		{Status: 500, Want: 502},
	}
	signerstest.Run(t, signerstest.Kind{
		Name: "gcs",
		New: func(t *testing.T, store string) signers.Signer {
			return newProfile(t, &GCS{Bucket: "my-bucket", Endpoint: store, APITimeout: caddy.Duration(3 * time.Second)})
		},
		Verify: func(r signers.Request, s *signers.Signed, now time.Time) error {
			if r.Method == http.MethodPost {
				return verifyForm(pub, email, s, now)
			}
			u, err := url.Parse(s.URL)
			if err != nil {
				return err
			}
			_, q, err := gcsverify.Request(pub, r.Method, u.Host, s.Headers["Content-Type"], u.EscapedPath(), u.RawQuery)
			if err != nil {
				return err
			}
			return gcsverify.Valid(q, email, now)
		},
		Store: store,
	})
}

// verifyForm checks a V4 POST policy form as Cloud Storage does: to the
// bucket, the signature of the policy under the account's key, and the
// policy's terms.
func verifyForm(pub *rsa.PublicKey, email string, s *signers.Signed, now time.Time) error {
	if !strings.HasSuffix(s.URL, "/my-bucket/") {
		return fmt.Errorf("POST form to %s, not the bucket", s.URL)
	}
	if f := s.Fields; f["x-goog-algorithm"] != "GOOG4-RSA-SHA256" || !strings.HasPrefix(f["x-goog-credential"], email+"/") {
		return errors.New("not a V4 form of the account")
	}
	sig, err := hex.DecodeString(s.Fields["x-goog-signature"])
	if err != nil {
		return err
	}
	digest := sha256.Sum256([]byte(s.Fields["policy"]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
		return err
	}
	return postpolicy.Covers(s.Fields, now, "x-goog-signature")
}
