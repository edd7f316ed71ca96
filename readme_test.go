package presign

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// TestREADMEExamples: the README's JSON example and every complete
// Caddyfile example (a site, a presign block, a profile; the ones with "…"
// elisions are fragments) pass `caddy validate`, so the manual cannot drift
// from the code.
func TestREADMEExamples(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := strings.ReplaceAll(string(b), "/etc/caddy/cloudfront-private.pem", "signers/testdata/cloudfront-rsa-pkcs1.pem")
	readme = strings.ReplaceAll(readme, "/etc/caddy/cloudfront.pem", "signers/testdata/cloudfront-rsa-pkcs1.pem")
	readme = strings.ReplaceAll(readme, "<ACCOUNT_ID>", "0123456789abcdef")
	for _, k := range []string{"SPACES_KEY", "SPACES_SECRET", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY",
		"R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY", "GCS_HMAC_ID", "GCS_HMAC_SECRET", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		t.Setenv(k, "example-"+strings.ToLower(k))
	}

	checked := 0
	for _, m := range regexp.MustCompile("(?s)```caddyfile\n(.*?)```").FindAllStringSubmatch(readme, -1) {
		block := m[1]
		if strings.Contains(block, "…") || strings.Contains(block, "<name>") {
			continue // a fragment, or the syntax reference
		}
		first := strings.Fields(block)
		var site string
		switch {
		case first[0] == "presign":
			site = ":8080 {\n" + block + "}\n"
		case first[0] == "profile" && len(first) > 2 && first[2] == "s3":
			site = ":8080 {\npresign {\n" + block + "rule /x/* {\nprofile " + first[1] + "\n}\n}\n}\n"
		case strings.HasSuffix(first[0], ".com") || strings.HasPrefix(first[0], ":"):
			site = block
		default:
			continue // log filter, rule-only snippets
		}
		if err := validate(t, site); err != nil {
			t.Errorf("README example starting %q: %v", strings.SplitN(block, "\n", 2)[0], err)
		}
		checked++
	}
	if checked < 8 {
		t.Errorf("only %d Caddyfile examples checked; the README's examples moved?", checked)
	}

	i := strings.Index(readme, "## JSON config")
	m := regexp.MustCompile("(?s)```json\n(.*?)```").FindStringSubmatch(readme[i:])
	var handler map[string]any
	if err := json.Unmarshal([]byte(m[1]), &handler); err != nil {
		t.Fatalf("the README's JSON example: %v", err)
	}
	cfg, _ := json.Marshal(map[string]any{"apps": map[string]any{"http": map[string]any{"servers": map[string]any{
		"s": map[string]any{"listen": []string{":8080"}, "routes": []any{map[string]any{"handle": []any{handler}}}}}}}})
	var c caddy.Config
	if err := json.Unmarshal(cfg, &c); err != nil {
		t.Fatal(err)
	}
	if err := caddy.Validate(&c); err != nil {
		t.Errorf("the README's JSON example: %v", err)
	}
}
