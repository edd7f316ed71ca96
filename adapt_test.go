package presign

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

// adapt turns a whole Caddyfile into Caddy's JSON config.
func adapt(t testing.TB, caddyfileText string) ([]byte, error) {
	t.Helper()
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfileText), map[string]any{"filename": "Caddyfile"})
	return cfg, err
}

// validate adapts a Caddyfile and provisions the result without starting
// it, as `caddy validate` does.
func validate(t testing.TB, caddyfileText string) error {
	t.Helper()
	raw, err := adapt(t, caddyfileText)
	if err != nil {
		return err
	}
	var cfg caddy.Config
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf("adapted config does not parse: %v", err)
	}
	return caddy.Validate(&cfg)
}

var update = flag.Bool("update", false, "rewrite the expected JSON of testdata/*.caddyfiletest with what their Caddyfiles adapt to")

// goldenSeparator separates a .caddyfiletest's Caddyfile from its JSON.
const goldenSeparator = "\n----------\n"

// TestCaddyfileAdapt: every testdata/*.caddyfiletest is a Caddyfile, a line
// "----------" and the JSON config it adapts to, indented with tabs, the way
// Caddy's own caddytest/integration/caddyfile_adapt tests are. The
// Caddyfiles are formatted (caddy fmt): an adapter warning fails the test.
// go test -run TestCaddyfileAdapt -update rewrites the JSON of every file
// with what its Caddyfile adapts to now (review the diff).
func TestCaddyfileAdapt(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.caddyfiletest"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/*.caddyfiletest (%v)", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			text, want, ok := strings.Cut(string(data), goldenSeparator)
			if !ok {
				t.Fatalf("no line %q between the Caddyfile and the JSON", strings.TrimSpace(goldenSeparator))
			}
			text = strings.TrimSpace(text) + "\n"
			raw, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(text), nil)
			if err != nil {
				t.Fatalf("adapting: %v", err)
			}
			for _, w := range warnings {
				t.Errorf("warning: line %d: %s: %s", w.Line, w.Directive, w.Message)
			}
			var indented bytes.Buffer
			if err := json.Indent(&indented, raw, "", "\t"); err != nil {
				t.Fatal(err)
			}
			got := indented.String()
			if *update {
				if err := os.WriteFile(file, []byte(text+strings.TrimPrefix(goldenSeparator, "\n")+got+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if line, g, w := firstDiff(got, strings.TrimSpace(want)); line > 0 {
				t.Errorf("the Caddyfile adapts to other JSON; first difference at line %d of the JSON:\n got: %s\nwant: %s\n(go test -run TestCaddyfileAdapt -update rewrites the file)", line, g, w)
			}
		})
	}
}

// firstDiff returns the number (from 1) of the first line where a and b
// differ, and that line of each; 0 if they are equal.
func firstDiff(a, b string) (int, string, string) {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range max(len(al), len(bl)) {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y || i >= len(al) || i >= len(bl) {
			return i + 1, x, y
		}
	}
	return 0, "", ""
}

// secret is a value that must never appear in an error message.
const secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYzSECRETKEY"

// s3Block is a valid S3 profile with static keys; extra lines go inside it.
func s3Block(name string, extra ...string) string {
	return `profile ` + name + ` s3 {
			bucket my-bucket
			region us-east-1
			access_key_id AKIAEXAMPLEKEYID
			secret_access_key ` + secret + `
			` + strings.Join(extra, "\n\t\t\t") + `
		}`
}

// TestRefusedAtStart: every config that cannot work (an unknown or
// duplicate name, a lifetime out of range, an option the profile's kind
// does not support, an unknown subdirective, ...) stops Caddy at start (or
// at adapt time) with an error that names the rule or profile, and no error
// holds a secret.
func TestRefusedAtStart(t *testing.T) {
	for _, c := range []struct {
		name, body string
		want       []string // substrings of the error
	}{
		{"unknown profile", s3Block("a") + `
		rule /x/* {
			profile b
		}`, []string{"rule 1 (/x/*)", `unknown profile "b"`, "profiles: a"}},
		{"duplicate profile", s3Block("a") + "\n" + s3Block("a") + `
		rule /x/* {
			profile a
		}`, []string{`duplicate profile "a"`}},
		{"no rule", s3Block("a"), []string{"no rule"}},
		{"rule without profile", s3Block("a") + `
		rule /x/* {
			methods GET
		}`, []string{"rule 1 (/x/*)", "no profile"}},
		{"expires zero on profile", s3Block("a", "expires 0s") + `
		rule /x/* {
			profile a
		}`, []string{`profile "a"`, "positive"}},
		{"expires negative on rule", s3Block("a") + `
		rule /x/* {
			profile a
			expires -5m
		}`, []string{"rule 1", "positive"}},
		{"expires over 7 days on profile", s3Block("a", "expires 8d") + `
		rule /x/* {
			profile a
		}`, []string{`profile "a"`, "over the limit of 168h"}},
		{"expires over 7 days on rule", s3Block("a") + `
		rule /x/* {
			profile a
			expires 169h
		}`, []string{"rule 1", `over profile "a"'s limit`}},
		{"stable not shorter than expires", s3Block("a") + `
		rule /x/* {
			profile a
			expires 10m
			stable 10m
		}`, []string{"rule 1", "stable 10m0s must be shorter than expires 10m0s"}},
		{"missing bucket", `profile a s3 {
			region us-east-1
			access_key_id AKIAEXAMPLEKEYID
			secret_access_key ` + secret + `
		}
		rule /x/* {
			profile a
		}`, []string{`profile "a"`, "bucket is required"}},
		{"missing region", `profile a s3 {
			bucket my-bucket
			access_key_id AKIAEXAMPLEKEYID
			secret_access_key ` + secret + `
		}
		rule /x/* {
			profile a
		}`, []string{`profile "a"`, "region is required"}},
		{"endpoint not http", s3Block("a", "endpoint ftp://s3.example.com") + `
		rule /x/* {
			profile a
		}`, []string{`profile "a"`, "not an http(s) URL"}},
		{"endpoint without scheme", s3Block("a", "endpoint s3.example.com") + `
		rule /x/* {
			profile a
		}`, []string{`profile "a"`, "not an http(s) URL"}},
		{"endpoint with path", s3Block("a", "endpoint https://s3.example.com/base") + `
		rule /x/* {
			profile a
		}`, []string{`profile "a"`, "without path"}},
		{"secret without id", `profile a s3 {
			bucket my-bucket
			region us-east-1
			secret_access_key ` + secret + `
		}
		rule /x/* {
			profile a
		}`, []string{`profile "a"`, "go together"}},
		{"dotted bucket, virtual-hosted https", `profile a s3 {
			bucket my.bucket.example
			region us-east-1
		}
		rule /x/* {
			profile a
		}`, []string{`profile "a"`, "path_style"}},
		{"CloudFront option on S3 rule", s3Block("a") + `
		rule /x/* {
			profile a
			bind_client_ip
		}`, []string{"rule 1", "bind_client_ip is an option of cloudfront and local profiles"}},
		{"CloudFront cookies on S3 rule", s3Block("a") + `
		rule /x/* {
			profile a
			cookies
		}`, []string{"rule 1", "cookies is an option of cloudfront and local profiles"}},
		{"CloudFront resource on S3 rule", s3Block("a") + `
		rule /x/* {
			profile a
			resource https://d1.cloudfront.net/*
		}`, []string{"rule 1", "resource is an option of cloudfront and local profiles"}},
		{"POST option without POST", s3Block("a") + `
		rule /x/* {
			profile a
			max_size 10MB
		}`, []string{"rule 1", "needs POST"}},
		{"bad method", s3Block("a") + `
		rule /x/* {
			profile a
			methods GET PATCH
		}`, []string{"rule 1", `method "PATCH"`}},
		{"bad status", s3Block("a") + `
		rule /x/* {
			profile a
			status 301
		}`, []string{"rule 1", "302, 303 or 307"}},
		{"bad respond", s3Block("a") + `
		rule /x/* {
			profile a
			respond html
		}`, []string{"rule 1", "redirect or json"}},
		{"bad content_disposition", s3Block("a") + `
		rule /x/* {
			profile a
			content_disposition download
		}`, []string{"rule 1", "attachment or inline"}},
		{"unknown subdirective in presign", s3Block("a") + `
		bucket x`, []string{`unknown subdirective "bucket" in presign`}},
		{"unknown subdirective in rule", s3Block("a") + `
		rule /x/* {
			profile a
			ttl 5m
		}`, []string{`unknown subdirective "ttl" in rule`}},
		{"unknown subdirective in profile", s3Block("a", "ttl 5m") + `
		rule /x/* {
			profile a
		}`, []string{`profile "a"`, `unknown subdirective "ttl" in s3 profile`}},
		{"unknown profile kind", `profile a oci {
			bucket x
		}`, []string{`profile "a": unknown kind "oci"`, "s3", "azure", "gcs"}},
		{"rule without pattern", s3Block("a") + `
		rule {
			profile a
		}`, []string{"at least one path pattern"}},
		{"bad max_size", s3Block("a") + `
		rule /x/* {
			profile a
			methods POST
			max_size lots
		}`, []string{"max_size", "not a size"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := validate(t, ":8080 {\n\tpresign {\n\t\t"+c.body+"\n\t}\n}\n")
			if err == nil {
				t.Fatalf("accepted; want an error with %q", c.want)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), secret[:12]) {
				t.Errorf("error holds the secret: %v", err)
			}
		})
	}
}

// TestValidConfigsStart: valid configs pass `caddy validate`, including
// the default credential chain and a role with no network.
func TestValidConfigsStart(t *testing.T) {
	for name, body := range map[string]string{
		"static keys": s3Block("a") + `
		rule /x/* {
			profile a
		}`,
		"default chain, AWS": `profile a s3 {
			bucket my-bucket
			region eu-west-1
		}
		rule /x/* {
			profile a
			expires 7d
			stable 1h
		}`,
		"role on static keys": s3Block("a", "role_arn arn:aws:iam::123456789012:role/r ext") + `
		rule /x/* {
			profile a
		}`,
		"r2 auto region": `profile r2 s3 {
			bucket media
			region auto
			endpoint https://0123456789abcdef.r2.cloudflarestorage.com
			access_key_id {env.R2_ID}
			secret_access_key {env.R2_SECRET}
		}
		rule /x/* {
			profile r2
			methods GET HEAD PUT POST
		}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("R2_ID", "id")
			t.Setenv("R2_SECRET", "secret")
			if err := validate(t, ":8080 {\n\tpresign {\n\t\t"+body+"\n\t}\n}\n"); err != nil {
				t.Fatalf("refused: %v", err)
			}
		})
	}
}

// TestExampleCaddyfile: example.Caddyfile adapts and passes `caddy
// validate` as shipped, with only its documented variables set.
func TestExampleCaddyfile(t *testing.T) {
	t.Setenv("S3_BUCKET", "my-bucket")
	t.Setenv("S3_REGION", "eu-central-1")
	b, err := os.ReadFile("example.Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	if err := validate(t, string(b)); err != nil {
		t.Fatalf("example.Caddyfile: %v", err)
	}
}
