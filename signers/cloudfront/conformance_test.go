package cloudfront

import (
	"testing"
	"time"

	"github.com/caddy-presign/presign/internal/cfverify"
	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/signerstest"
)

// TestConformance runs the suite of every kind against CloudFront, with
// the independent verifier of signed URLs and cookies (cfverify), for an
// RSA and an ECDSA key. CloudFront has no store and no credential that
// expires or can fail.
func TestConformance(t *testing.T) {
	for _, key := range []struct{ private, public string }{{cfRSAPKCS1, cfRSAPublic}, {cfECPKCS8, cfECPublic}} {
		v := &cfverify.Verifier{KeyID: cfTestKeyID, Pub: loadPublicKey(t, key.public)}
		t.Run(key.private, func(t *testing.T) {
			signerstest.Run(t, signerstest.Kind{
				Name: "cloudfront",
				New: func(t *testing.T, _ string) signers.Signer {
					return newCloudFront(t, func(c *CloudFront) { c.PrivateKeyFile = key.private })
				},
				Verify: func(r signers.Request, s *signers.Signed, now time.Time) error {
					_, err := v.Check(cfverify.Request{URL: s.URL, Cookies: s.Cookies, Time: now, IP: r.ClientIP})
					return err
				},
			})
		})
	}
}
