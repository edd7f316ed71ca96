package presign

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The handler's start: configs that cannot work stop Caddy with an error
// that names the rule or profile, says why and never shows a secret. Each
// kind's own checks are tested in its package (signers/<kind>).

// TestCloudFrontRefusedAtStart: CloudFront configs that cannot work stop
// Caddy at start with an error that names the profile or rule, and never
// holds key material.
func TestCloudFrontRefusedAtStart(t *testing.T) {
	dir := t.TempDir()
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(ed)
	edPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	edFile := filepath.Join(dir, "ed25519.pem")
	if err := os.WriteFile(edFile, edPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	rsaPEM, err := os.ReadFile(cfPrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("CF_TEST_ED_KEY", string(edPEM))
	t.Setenv("CF_TEST_BROKEN_KEY", strings.Replace(string(rsaPEM), "\n", "\n!", 5))
	pub, _ := filepath.Abs(cfPublicKey)
	rule := func(extra ...string) string {
		return `
		rule /x/* {
			profile cf
			` + strings.Join(extra, "\n\t\t\t") + `
		}`
	}
	key, _ := filepath.Abs(cfPrivateKey)
	for _, c := range []struct {
		name, body string
		want       []string
	}{
		{"missing domain", `profile cf cloudfront {
			key_pair_id K1
			private_key_file ` + key + `
		}` + rule(), []string{`profile "cf"`, "domain is required"}},
		{"missing key_pair_id", `profile cf cloudfront {
			domain ` + cfDist + `
			private_key_file ` + key + `
		}` + rule(), []string{`profile "cf"`, "key_pair_id is required"}},
		{"missing key", `profile cf cloudfront {
			domain ` + cfDist + `
			key_pair_id K1
		}` + rule(), []string{`profile "cf"`, "private key is required"}},
		{"both keys", cfProfile(t, "cf", cfDist, "private_key {env.CF_TEST_ED_KEY}") + rule(), []string{`profile "cf"`, "exclude each other"}},
		{"PUT on CloudFront", cfProfile(t, "cf", cfDist) + rule("methods GET PUT"), []string{"rule 1 (/x/*)", `profile "cf"`, "CloudFront signs downloads only: GET, HEAD"}},
		{"POST on CloudFront", cfProfile(t, "cf", cfDist) + rule("methods POST"), []string{"rule 1 (/x/*)", "CloudFront signs downloads only"}},
		{"DELETE on CloudFront", cfProfile(t, "cf", cfDist) + rule("methods GET DELETE"), []string{"rule 1 (/x/*)", `profile "cf"`, "method DELETE: CloudFront signs downloads only: GET, HEAD"}},
		{"S3 option on CloudFront", cfProfile(t, "cf", cfDist) + rule("content_disposition attachment"), []string{"rule 1 (/x/*)", "content_disposition is an option of s3, azure, gcs and local profiles, not of cloudfront ones"}},
		{"S3 POST option on CloudFront", cfProfile(t, "cf", cfDist) + rule("max_size 10MB"), []string{"rule 1 (/x/*)", "max_size is an option of s3 and gcs profiles"}},
		{"cookie domain elsewhere", cfProfile(t, "cf", "cdn.example.com") + rule("cookies example.org"), []string{"rule 1 (/x/*)", "would not send these cookies"}},
		{"bad key file", `profile cf cloudfront {
			domain ` + cfDist + `
			key_pair_id K1
			private_key_file ` + filepath.Join(dir, "missing.pem") + `
		}` + rule(), []string{`profile "cf"`, "private_key_file", "cannot read"}},
		{"public key as key", `profile cf cloudfront {
			domain ` + cfDist + `
			key_pair_id K1
			private_key_file ` + pub + `
		}` + rule(), []string{`profile "cf"`, "public key, not the private key"}},
		{"wrong key type (file)", `profile cf cloudfront {
			domain ` + cfDist + `
			key_pair_id K1
			private_key_file ` + edFile + `
		}` + rule(), []string{`profile "cf"`, "Ed25519", "PKCS#1 or PKCS#8", "P-256"}},
		{"wrong key type (env)", `profile cf cloudfront {
			domain ` + cfDist + `
			key_pair_id K1
			private_key {env.CF_TEST_ED_KEY}
		}` + rule(), []string{`profile "cf"`, "private_key: an Ed25519 key cannot sign"}},
		{"broken key (env)", `profile cf cloudfront {
			domain ` + cfDist + `
			key_pair_id K1
			private_key {env.CF_TEST_BROKEN_KEY}
		}` + rule(), []string{`profile "cf"`, "private_key: not a PEM private key", "PKCS#1 or PKCS#8"}},
		{"unknown subdirective", cfProfile(t, "cf", cfDist, "bucket x") + rule(), []string{`profile "cf"`, `unknown subdirective "bucket" in cloudfront profile (domain, key_pair_id, private_key_file, private_key, kms_key, kms_endpoint, kms_timeout, region, access_key_id, secret_access_key, session_token, aws_profile, role_arn, credentials_timeout, hash_algorithm, expires)`}},
		{"unquoted inline PEM", `profile cf cloudfront {
			domain ` + cfDist + `
			key_pair_id K1
			private_key ` + strings.TrimSpace(string(rsaPEM)) + `
		}` + rule(), []string{`profile "cf"`, "private_key takes one argument"}},
		{"http domain", cfProfile(t, "cf", "http://cdn.example.com") + rule(), []string{`profile "cf"`, "https"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := validate(t, ":8080 {\n\tpresign {\n\t\t"+c.body+"\n\t}\n}\n")
			if err == nil {
				t.Fatalf("accepted; want an error with %q", c.want)
			}
			msg := err.Error()
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			if strings.Contains(msg, "PRIVATE KEY") || strings.Contains(msg, "-----") {
				t.Errorf("error holds a PEM header: %s", msg)
			}
			for _, k := range [][]byte{rsaPEM, edPEM} {
				body := strings.Join(strings.Split(strings.TrimSpace(string(k)), "\n")[1:], "")
				for i := 0; i+16 <= len(body); i += 8 {
					if chunk := body[i : i+16]; !strings.Contains(chunk, "-") && strings.Contains(msg, chunk) {
						t.Fatalf("error holds key material %q: %s", chunk, msg)
					}
				}
			}
		})
	}
}

// TestCloudFrontValidConfig: a complete CloudFront config passes `caddy
// validate`, with the {host} shorthand, cookies, bind_client_ip, stable and
// an inline key from the environment with its line breaks as \n.
func TestCloudFrontValidConfig(t *testing.T) {
	rsaPEM, err := os.ReadFile(cfPrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("CF_TEST_KEY", strings.ReplaceAll(strings.TrimSpace(string(rsaPEM)), "\n", `\n`))
	cfg := `cdn.example.com {
	presign {
		profile cdn cloudfront {
			domain https://cdn.example.com
			key_pair_id ` + cfKeyID + `
			private_key {env.CF_TEST_KEY}
			expires 12h
		}
		rule /results/* {
			profile cdn
			resource https://{host}/results/*
			cookies example.com
			stable 10m
		}
		rule /private/* {
			profile cdn
			bind_client_ip
			expires 5m
			status 303
		}
	}
}`
	if err := validate(t, cfg); err != nil {
		t.Fatalf("refused: %v", err)
	}
	// what it adapts to (the key stays a placeholder): testdata/cloudfront.caddyfiletest
}

// TestCloudKindsRefusedAtStart: options an Azure or GCS profile cannot
// serve, and profiles that cannot sign, stop Caddy at start with an error
// that names the rule or profile and says why, and never shows a secret.
func TestCloudKindsRefusedAtStart(t *testing.T) {
	file := gcsTestAccount(t).File
	userCreds := filepath.Join(t.TempDir(), "adc.json")
	if err := os.WriteFile(userCreds, []byte(`{"type":"authorized_user","client_id":"x","client_secret":"s3cr3t-value","refresh_token":"r"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", userCreds)
	az := `profile az azure {
			account devstoreaccount1
			container media
			account_key ` + azuriteKey + `
		}
		`
	g := `profile g gcs {
			bucket my-bucket
			service_account_file ` + file + `
		}
		`
	for _, c := range []struct{ name, block, want string }{
		{"azure POST", az + `rule /x/* {
			profile az
			methods POST
		}`, `rule 1 (/x/*): profile "az": method POST: Azure Blob Storage has no browser upload form`},
		{"azure max_size", az + `rule /x/* {
			profile az
			methods PUT
			max_size 1MB
		}`, `rule 1 (/x/*): profile "az": max_size is an option of s3 and gcs profiles, not of azure ones`},
		{"azure cookies", az + `rule /x/* {
			profile az
			cookies
		}`, `rule 1 (/x/*): profile "az": cookies is an option of cloudfront and local profiles, not of azure ones`},
		{"azure disposition on PUT", az + `rule /x/* {
			profile az
			methods PUT
			content_disposition attachment
		}`, `rule 1 (/x/*): profile "az": content_disposition, content_type and cache_control shape downloads`},
		{"azure delegation key's limit", `profile az azure {
			account devstoreaccount1
			container media
		}
		rule /x/* {
			profile az
			expires 8d
		}`, `rule 1 (/x/*): profile "az": expires 192h0m0s is over profile "az"'s limit of 168h0m0s`},
		{"azure bad key", `profile az azure {
			account devstoreaccount1
			container media
			account_key not*base64
		}
		rule /x/* {
			profile az
		}`, `account_key is not a storage account key`},
		{"azure bad account", `profile az azure {
			account Bad_Name
			container media
			account_key ` + azuriteKey + `
		}
		rule /x/* {
			profile az
		}`, `account "Bad_Name" must be a storage account name`},
		{"gcs cache_control", g + `rule /x/* {
			profile g
			cache_control no-cache
		}`, `rule 1 (/x/*): profile "g": cache_control is an option of s3 and azure profiles, not of gcs ones`},
		{"gcs resource", g + `rule /x/* {
			profile g
			resource https://x/*
		}`, `rule 1 (/x/*): profile "g": resource is an option of cloudfront and local profiles, not of gcs ones`},
		{"gcs expires", g + `rule /x/* {
			profile g
			expires 8d
		}`, `rule 1 (/x/*): profile "g": expires 192h0m0s is over profile "g"'s limit of 168h0m0s`},
		{"gcs without a key", `profile g gcs {
			bucket my-bucket
		}
		rule /x/* {
			profile g
		}`, `credentials of type "authorized_user" hold no private key; signing needs a service-account key`},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, err := parseBlock("presign {\n" + c.block + "\n}")
			if err == nil {
				_, err = provisionJSON(t, mustJSON(t, h))
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			for _, secret := range []string{azuriteKey, "not*base64", "s3cr3t-value", "PRIVATE KEY"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error shows a secret: %v", err)
				}
			}
		})
	}
}
