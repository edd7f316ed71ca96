package harness

import (
	"testing"

	"github.com/caddy-presign/presign/internal/gcsiam"
)

// IAM is the tests' IAM Credentials API and metadata server, for gcs
// profiles without a key (service_account <email>): signBlob signs with
// the account's key, which Caddy never sees, for the metadata server's
// token only (see internal/gcsiam). Its API: IAM.URL is the iam_endpoint,
// MetadataHost() the GCE_METADATA_HOST (IAMEnv), Email() and Key() the
// account, Refuse(true) makes signBlob answer 403 PERMISSION_DENIED,
// Delay(d) holds its answers, Signs() and Calls() count them. Outside a
// test (a benchmark scenario), gcsiam.Start launches it, Close stops it.
type IAM = gcsiam.Server

// StartIAM starts the servers for account; they stop when the test ends.
func StartIAM(t testing.TB, account GCSAccount) *IAM {
	t.Helper()
	s := gcsiam.Start(account.Email, account.Key)
	t.Cleanup(s.Close)
	return s
}

// IAMEnv is the environment (for StartCaddyEnv) of a Caddy process that
// takes its token from s's metadata server, as on GCE, GKE or Cloud Run:
// GCE_METADATA_HOST names it, and no Application Default Credentials file
// is set (the process's HOME, gcloud's among them, is its own).
func IAMEnv(s *IAM) []string {
	return []string{"GCE_METADATA_HOST=" + s.MetadataHost(), "GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CONFIG"}
}
