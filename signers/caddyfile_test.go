package signers

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// TestProfileBlockUnknown: every kind refuses an unknown subdirective with
// the known ones listed, and does not quote one that may be part of an
// unquoted secret (a PEM's line, the rest of a key with a space).
func TestProfileBlockUnknown(t *testing.T) {
	for kind, u := range map[string]caddyfile.Unmarshaler{"s3": new(S3), "cloudfront": new(CloudFront), "azure": new(Azure), "gcs": new(GCS)} {
		d := caddyfile.NewTestDispenser(kind + " {\n\tttl 5m\n}")
		err := u.UnmarshalCaddyfile(d)
		if err == nil || !strings.Contains(err.Error(), `unknown subdirective "ttl" in `+kind+` profile (`) || !strings.Contains(err.Error(), "expires") {
			t.Errorf("%s: %v, want the unknown ttl refused with the known subdirectives", kind, err)
		}
		d = caddyfile.NewTestDispenser(kind + " {\n\tMIIEvQIBADANBgkqhkiG9w0B+AQEFAASC\n}")
		err = u.UnmarshalCaddyfile(d)
		if err == nil || strings.Contains(err.Error(), "MIIEv") || !strings.Contains(err.Error(), "not shown") {
			t.Errorf("%s: %v, want a refusal that does not show the token", kind, err)
		}
	}
}
