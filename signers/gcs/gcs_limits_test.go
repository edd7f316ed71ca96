package gcs

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-presign/presign/signers"
)

// TestGCSRefusedAtStart: a lifetime over V4's 7 days is refused, naming
// the profile and the limit; Application Default Credentials that hold no
// private key (a user's, from gcloud) cannot sign, and the error says so
// without showing their secret.
func TestGCSRefusedAtStart(t *testing.T) {
	g := newTestGCS(t, &GCS{Bucket: "my-bucket"})
	err := g.CheckRule(&signers.RuleInfo{Profile: "g", Methods: []string{"GET", "HEAD"}, Expires: 8 * 24 * time.Hour, Options: &signers.Options{}})
	if want := `expires 192h0m0s is over profile "g"'s limit of 168h0m0s`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("8d: %v, want %q", err, want)
	}

	userCreds := filepath.Join(t.TempDir(), "adc.json")
	if err := os.WriteFile(userCreds, []byte(`{"type":"authorized_user","client_id":"x","client_secret":"s3cr3t-value","refresh_token":"r"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", userCreds)
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	err = (&GCS{Bucket: "my-bucket"}).Provision(ctx)
	if want := `credentials of type "authorized_user" hold no private key; signing needs a service-account key`; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("user credentials: %v, want %q", err, want)
	}
	if strings.Contains(err.Error(), "s3cr3t-value") {
		t.Errorf("the error shows the secret: %v", err)
	}
}
