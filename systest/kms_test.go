package systest

import (
	"context"
	"crypto/x509"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/caddy-presign/presign/internal/cfverify"
	"github.com/caddy-presign/presign/systest/harness"
)

const kmsDist = "d111111abcdef8.cloudfront.net"

// kmsProfile is a cloudfront profile that signs with the local-kms key arn.
func kmsProfile(name, arn string, k *harness.KMS) string {
	return `profile ` + name + ` cloudfront {
			domain ` + kmsDist + `
			key_pair_id K2JCJMDEHXQW5F
			kms_key ` + arn + `
			kms_endpoint ` + k.Endpoint + `
			kms_timeout 2s
			access_key_id AKIDLOCALKMS
			secret_access_key local-kms-checks-no-secret
		}`
}

// kmsPublicKey is the public key of arn, from KMS's GetPublicKey.
func kmsPublicKey(t *testing.T, k *harness.KMS, arn string) any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := k.Client.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: &arn})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.ParsePKIXPublicKey(out.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// TestCloudFrontKMS: a Caddy process signs CloudFront URLs and cookies,
// canned and custom policies, through local-kms with an RSA and an ECC
// key; each verifies over SHA-256 with the public key KMS gives, and a
// tampered one does not. With local-kms stopped a new URL is 503 with
// Retry-After; once it is back, 302 again, without restarting Caddy.
func TestCloudFrontKMS(t *testing.T) {
	k := harness.StartKMS(t)
	keys := map[string]string{"rsa": k.CreateKey("RSA_2048", "SIGN_VERIFY"), "ec": k.CreateKey("ECC_NIST_P256", "SIGN_VERIFY")}
	const wildcard = "https://" + kmsDist + "/results/*"
	var parts []string
	for name, arn := range keys {
		parts = append(parts, kmsProfile(name, arn, k))
		for _, r := range []struct{ prefix, extra string }{
			{name + "-canned", ""},
			{name + "-custom", "resource " + wildcard},
			{name + "-cookies", "cookies"},
			{name + "-cookies-custom", "cookies\n\t\t\tresource " + wildcard},
		} {
			parts = append(parts, `rule /`+r.prefix+`/* {
			profile `+name+`
			strip_prefix /`+r.prefix+`
			key results/{presign.path}
			`+r.extra+`
		}`)
		}
	}
	port := harness.Port(t)
	harness.StartCaddy(t, site(port, presignBlock(parts...)), []int{port})
	base := "http://127.0.0.1:" + strconv.Itoa(port)

	for name, arn := range keys {
		v := &cfverify.Verifier{KeyID: "K2JCJMDEHXQW5F", Pub: kmsPublicKey(t, k, arn)}
		for _, kind := range []string{"canned", "custom", "cookies", "cookies-custom"} {
			code, hdr, body := harness.Fetch(t, "GET", base+"/"+name+"-"+kind+"/run 1/out.bin", nil)
			if code != http.StatusFound {
				t.Fatalf("%s %s: %d %q", name, kind, code, body)
			}
			u := hdr.Get("Location")
			cookies := (&http.Response{Header: hdr}).Cookies()
			if _, err := v.Check(cfverify.Request{URL: u, Cookies: cookies, Time: time.Now()}); err != nil {
				t.Errorf("%s %s: the verifier refuses %s %v: %v", name, kind, u, cookies, err)
			}
			if strings.HasPrefix(kind, "cookies") {
				if len(cookies) != 4 || cookies[3].Name != "CloudFront-Hash-Algorithm" || cookies[3].Value != "SHA256" {
					t.Errorf("%s %s: cookies %v, want CloudFront-Hash-Algorithm=SHA256 among four", name, kind, cookies)
				}
				continue
			}
			if !strings.HasSuffix(u, "&Hash-Algorithm=SHA256") {
				t.Errorf("%s %s: %s does not name SHA256", name, kind, u)
			}
			tampered := strings.Replace(u, "/out.bin?", "/out.bim?", 1)
			if kind == "custom" {
				tampered = strings.Replace(u, "&Signature=", "&Signature=AAAA", 1)
			}
			if _, err := v.Check(cfverify.Request{URL: tampered, Time: time.Now()}); err == nil {
				t.Errorf("%s %s: the verifier accepts the tampered %s", name, kind, tampered)
			}
		}
	}

	k.Stop()
	code, hdr, _ := harness.Fetch(t, "GET", base+"/rsa-canned/while-down.bin", nil)
	if code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" {
		t.Errorf("local-kms stopped: %d, Retry-After %q; want 503 with one", code, hdr.Get("Retry-After"))
	}
	k.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _, body := harness.Fetch(t, "GET", base+"/rsa-canned/while-down.bin", nil)
		if code == http.StatusFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("local-kms back: still %d %q", code, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestCloudFrontKMSRefusedAtStart: a key made for ENCRYPT_DECRYPT, or a
// key that KMS does not have, stops Caddy at start with a message that
// says so.
func TestCloudFrontKMSRefusedAtStart(t *testing.T) {
	k := harness.StartKMS(t)
	enc := k.CreateKey("RSA_2048", "ENCRYPT_DECRYPT")
	missing := "arn:aws:kms:" + harness.KMSRegion + ":111122223333:key/8a4d8f8e-0000-4000-8000-000000000000"
	bin := harness.CaddyBinary(t)
	for _, c := range []struct{ name, arn, want string }{
		{"encrypt key", enc, "is a ENCRYPT_DECRYPT key; CloudFront needs an asymmetric SIGN_VERIFY key"},
		{"missing key", missing, "KMS has no such key"},
	} {
		dir := t.TempDir()
		cfg := filepath.Join(dir, "Caddyfile")
		port := harness.Port(t)
		text := "{\n\tadmin off\n\tauto_https off\n\tstorage file_system " + dir + "\n}\n" +
			site(port, presignBlock(kmsProfile("cf", c.arn, k), "rule /x/* {\n\t\t\tprofile cf\n\t\t}"))
		if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		cmd := exec.CommandContext(ctx, bin, "run", "--config", cfg, "--adapter", "caddyfile")
		cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
		out, err := cmd.CombinedOutput()
		timedOut := ctx.Err() != nil
		cancel()
		if err == nil || timedOut {
			t.Errorf("%s: Caddy did not stop at start (%v)", c.name, err)
		}
		if !strings.Contains(string(out), c.want) {
			t.Errorf("%s: Caddy's output does not say %q:\n%s", c.name, c.want, out)
		}
	}
}
