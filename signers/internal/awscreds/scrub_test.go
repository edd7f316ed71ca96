package awscreds

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/credcache"
	"github.com/caddy-presign/presign/signers/signerstest"
)

// TestCredentialErrorsWithoutAddresses: when the endpoint the credentials
// come from is down (STS for a role, the instance metadata service of the
// default chain), the credential cache's error, which the handler logs,
// names the cause but not the endpoint's address.
func TestCredentialErrorsWithoutAddresses(t *testing.T) {
	down := signerstest.DownURL()
	none := filepath.Join(t.TempDir(), "none")
	for _, env := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ROLE_ARN",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_ENDPOINT_URL"} {
		t.Setenv(env, "")
	}
	t.Setenv("AWS_CONFIG_FILE", none)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", none)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "")
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", down)
	t.Setenv("AWS_ENDPOINT_URL_STS", down)
	for _, c := range []struct {
		name    string
		cfg     Config
		timeout time.Duration
	}{
		{"role", Config{AccessKeyID: "AKID", SecretAccessKey: "SECRET", RoleARN: "arn:aws:iam::123456789012:role/caddy"}, time.Second},
		{"default chain", Config{}, 5 * time.Second}, // the metadata client's retries
	} {
		p, err := c.cfg.Provider(context.Background(), "us-east-1", c.timeout)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		_, err = credcache.New(Fetch(p), 4*c.timeout, time.Minute).Get(context.Background())
		if !errors.Is(err, signers.ErrCredentials) {
			t.Fatalf("%s: %v, want an ErrCredentials", c.name, err)
		}
		text := err.Error()
		if addr := signerstest.AddressIn(text, down); addr != "" {
			t.Errorf("%s: the error %q holds the endpoint's address (%s)", c.name, text, addr)
		}
		if !strings.Contains(text, "connection refused") {
			t.Errorf("%s: the error %q does not say why: connection refused", c.name, text)
		}
	}
}
