package presign

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Secrets of the test below: distinctive, so that any leak is found by a
// plain substring search.
const (
	leakStaticSecret = "STATICsecretACCESSkeyVALUE0123456789abcd"
	leakStaticToken  = "STATICsessionTOKENvalue0123456789"
)

// TestNoSecretsInStartErrors: the errors that stop Caddy at start for
// configs that hold secrets (keys in an endpoint's user info, keys without
// their other half, secrets with a space given unquoted, a bad role, a
// CloudFront key cut short, unquoted or broken) hold none of them, nor any
// line of the private key. (Secrets in logs and answers at run time:
// systest's TestNoSecretsInLogsOrErrors and TestAccessLogFilter.)
func TestNoSecretsInStartErrors(t *testing.T) {
	_, keyPEM := cloudFrontKeyFile(t)
	secrets := []string{
		"PRIVATE KEY", leakStaticSecret, leakStaticToken,
		leakStaticSecret[20:], leakStaticToken[12:],
	} // the halves: of secrets with a space, given unquoted
	lines := strings.Split(strings.TrimSpace(string(keyPEM)), "\n")
	for i := 1; i < len(lines)-1; i += 5 {
		secrets = append(secrets, lines[i])
	}
	// a profile p of the kind with lines, after the ones every case needs
	profile := func(kind string, lines ...string) string {
		return "profile p " + kind + " {\n\t\t\t" + strings.Join(lines, "\n\t\t\t") + "\n\t\t}"
	}
	s3 := func(lines ...string) string {
		return profile("s3", append([]string{"bucket b-1", "region us-east-1"}, lines...)...)
	}
	cf := func(lines ...string) string {
		return profile("cloudfront", append([]string{"domain d1.cloudfront.net", "key_pair_id K1"}, lines...)...)
	}
	keys := []string{"access_key_id AKIDLEAK", "secret_access_key " + leakStaticSecret}
	for _, c := range []struct{ name, block string }{
		{"endpoint with user info", s3(append(keys, "endpoint https://AKIDLEAK:"+leakStaticSecret+"@s3.example.com")...)},
		{"endpoint with user info and a path", s3("endpoint https://AKIDLEAK:" + leakStaticSecret + "@s3.example.com/x")},
		{"endpoint with user info, a slash in the secret", s3("endpoint https://AKIDLEAK:ab/" + leakStaticSecret + "@s3.example.com")},
		{"endpoint user info only", s3("endpoint " + leakStaticSecret + "@s3.example.com")},
		{"secret without key id", s3(keys[1])},
		{"token without keys", s3("session_token " + leakStaticToken)},
		{"keys and aws_profile", s3(append(keys, "aws_profile prod")...)},
		{"secret with a space, unquoted", s3(keys[0], "secret_access_key "+leakStaticSecret[:20]+" "+leakStaticSecret[20:])},
		{"token with a space, unquoted", s3(keys[0], "secret_access_key x", "session_token "+leakStaticToken[:12]+" "+leakStaticToken[12:])},
		{"bad role", s3(append(keys, "role_arn not-an-arn")...)},
		{"cloudfront key cut short", cf("private_key `" + string(keyPEM[:len(keyPEM)/2]) + "\n-----END PRIVATE KEY-----`")},
		{"cloudfront key not quoted", cf("private_key " + strings.ReplaceAll(string(keyPEM), "\n", "\n\t\t\t"))},
		{"cloudfront key in a bad file", cf("private_key_file " + writeFile(t, "bad.pem", strings.ReplaceAll(string(keyPEM), "A", "*")))},
	} {
		t.Run(c.name, func(t *testing.T) {
			block := "presign {\n\t\t" + c.block + "\n\t\trule /* {\n\t\t\tprofile p\n\t\t}\n\t}"
			hh, err := parseBlock(block)
			if err == nil {
				_, err = provisionJSON(t, mustJSON(t, hh))
			}
			if err == nil {
				t.Fatal("the config was accepted")
			}
			for _, s := range secrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("the error holds %q: %v", s, err)
				}
			}
		})
	}
}

func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
