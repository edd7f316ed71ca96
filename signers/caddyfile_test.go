package signers_test

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-presign/presign/signers"
	// the kinds, registered as the handler's module registers them: the
	// tests of this package check every one
	_ "github.com/caddy-presign/presign/signers/azure"
	_ "github.com/caddy-presign/presign/signers/cloudfront"
	_ "github.com/caddy-presign/presign/signers/gcs"
	_ "github.com/caddy-presign/presign/signers/local"
	_ "github.com/caddy-presign/presign/signers/s3"
)

// TestProfileBlockUnknown: every kind refuses an unknown subdirective with
// the known ones listed, and does not quote one that may be part of an
// unquoted secret (a PEM's line, the rest of a key with a space).
func TestProfileBlockUnknown(t *testing.T) {
	mods := caddy.GetModules(signers.Namespace)
	if len(mods) == 0 {
		t.Fatal("no kind registered")
	}
	for _, m := range mods {
		kind := m.ID.Name()
		u, ok := m.New().(caddyfile.Unmarshaler)
		if !ok {
			t.Errorf("%s: no caddyfile.Unmarshaler", kind)
			continue
		}
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
