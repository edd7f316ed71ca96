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
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/caddy-presign/presign/internal/cfverify"
	"github.com/caddy-presign/presign/systest/harness"
)

const kmsDist = "d111111abcdef8.cloudfront.net"

// kmsProfile is a cloudfront profile that signs with the key arn of the
// KMS at endpoint, each call within timeout.
func kmsProfile(name, arn, endpoint, timeout string) string {
	return `profile ` + name + ` cloudfront {
			domain ` + kmsDist + `
			key_pair_id K2JCJMDEHXQW5F
			kms_key ` + arn + `
			kms_endpoint ` + endpoint + `
			kms_timeout ` + timeout + `
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
		parts = append(parts, kmsProfile(name, arn, k.Endpoint, "2s"))
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
			site(port, presignBlock(kmsProfile("cf", c.arn, k.Endpoint, "2s"), "rule /x/* {\n\t\t\tprofile cf\n\t\t}"))
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

// TestCloudFrontKMSOneCall: a thousand concurrent first requests for one
// URL make one kms:Sign call, counted by a proxy in front of local-kms.
// With stable 1h all thousand answers carry the same URL, which the key's
// public key verifies. Without stable the signing time is the request's
// second (README: a call per distinct policy), so the requests make one
// call per second they span: as many calls as distinct URLs, each of them
// verified.
func TestCloudFrontKMSOneCall(t *testing.T) {
	k := harness.StartKMS(t)
	arn := k.CreateKey("RSA_2048", "SIGN_VERIFY")
	proxy := harness.StartKMSProxy(t, k)
	port := harness.Port(t)
	// a long kms_timeout: a call slowed by a loaded machine is to count
	// once here, not to fail (TestCloudFrontKMS tests failures)
	harness.StartCaddy(t, site(port, presignBlock(kmsProfile("cf", arn, proxy.URL, "30s"),
		"rule /stable/* {\n\t\t\tprofile cf\n\t\t\tstrip_prefix /stable\n\t\t\tstable 1h\n\t\t\texpires 2h\n\t\t}",
		"rule /plain/* {\n\t\t\tprofile cf\n\t\t\tstrip_prefix /plain\n\t\t}")), []int{port})
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	v := &cfverify.Verifier{KeyID: "K2JCJMDEHXQW5F", Pub: kmsPublicKey(t, k, arn)}

	// a burst that spans the end of a stable window would rightly sign
	// twice: start it well inside one
	if left := time.Hour - time.Duration(time.Now().Unix()%3600)*time.Second; left < 30*time.Second {
		time.Sleep(left + time.Second)
	}
	for _, c := range []struct {
		route  string
		stable bool
	}{{"/stable/", true}, {"/plain/", false}} {
		before := proxy.Signs()
		start := time.Now()
		urls := concurrentGets(t, base+c.route+"reports/one.bin", 1000)
		elapsed := time.Since(start)
		calls := proxy.Signs() - before
		if c.stable && (len(urls) != 1 || calls != 1) {
			t.Errorf("%s: 1000 concurrent requests made %d kms:Sign calls and %d distinct URLs; want 1 and 1", c.route, calls, len(urls))
		}
		if seconds := int(elapsed/time.Second) + 2; !c.stable && (calls != int64(len(urls)) || len(urls) > seconds) {
			t.Errorf("%s: 1000 concurrent requests in %v made %d kms:Sign calls and %d distinct URLs; want one call per URL, at most %d",
				c.route, elapsed, calls, len(urls), seconds)
		}
		for u := range urls {
			if _, err := v.Check(cfverify.Request{URL: u, Time: time.Now()}); err != nil {
				t.Errorf("%s: the verifier refuses %s: %v", c.route, u, err)
			}
			if tampered := strings.Replace(u, "/one.bin?", "/one.bim?", 1); tampered == u {
				t.Errorf("%s: %s is not a URL of reports/one.bin", c.route, u)
			} else if _, err := v.Check(cfverify.Request{URL: tampered, Time: time.Now()}); err == nil {
				t.Errorf("%s: the verifier accepts the tampered %s", c.route, tampered)
			}
		}
		t.Logf("%s: 1000 concurrent requests in %v: %d kms:Sign calls, %d distinct URLs", c.route, elapsed.Round(time.Millisecond), calls, len(urls))
	}
}

// concurrentGets sends n GET requests for u at once, each on its own
// connection, and returns the distinct Location headers of their 302
// answers; any other answer fails the test.
func concurrentGets(t *testing.T, u string, n int) map[string]int {
	t.Helper()
	client := harness.LoadClient(n)
	defer client.CloseIdleConnections()
	type answer struct {
		code     int
		location string
		err      error
	}
	answers := make(chan answer, n)
	ready, fire := sync.WaitGroup{}, make(chan struct{})
	ready.Add(n)
	for range n {
		go func() {
			ready.Done()
			<-fire
			code, hdr, _, err := harness.Do(context.Background(), client, http.MethodGet, u)
			answers <- answer{code, hdr.Get("Location"), err}
		}()
	}
	ready.Wait()
	close(fire)
	urls := map[string]int{}
	for range n {
		a := <-answers
		if a.err != nil || a.code != http.StatusFound {
			t.Fatalf("GET %s: %d %v", u, a.code, a.err)
		}
		urls[a.location]++
	}
	return urls
}
