package systest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-presign/presign/systest/harness"
)

// Secrets of the tests below: distinctive, so that any leak is found by a
// plain substring search.
const (
	leakStaticSecret = "STATICsecretACCESSkeyVALUE0123456789abcd"
	leakStaticToken  = "STATICsessionTOKENvalue0123456789"
	leakCtrSecret    = "CONTAINERsecretACCESSkeyVALUE0123456789"
	leakCtrToken     = "CONTAINERsessionTOKENvalue0123456789"
	leakBaseSecret   = "ROLEbaseSECRETaccessKEYvalue0123456789"
	leakRoleSecret   = "ROLEsessionSECRETaccessKEYvalue01234567"
	leakRoleToken    = "FQoGZXIvYXdzEXAMPLETOKEN" // what fakeSTS hands out
)

// cfKeyFile is the CloudFront test key (never used for anything real).
const cfKeyFile = "signers/cloudfront/testdata/cloudfront-rsa-pkcs1.pem"

// secretsIn returns the secrets found in text, by name.
func secretsIn(text string, secrets map[string]string) []string {
	var found []string
	for name, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			found = append(found, name)
		}
	}
	return found
}

// cfKeySecrets returns the CloudFront test key's path and the parts of it
// that must never show: its armour and a few lines of its body.
func cfKeySecrets(t *testing.T) (string, map[string]string) {
	t.Helper()
	path := harness.RepoPath(cfKeyFile)
	pemBytes, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{"PEM armour": "PRIVATE KEY"}
	lines := strings.Split(strings.TrimSpace(string(pemBytes)), "\n")
	for i := 1; i < len(lines)-1; i += 5 {
		m["PEM line "+strconv.Itoa(i)] = lines[i]
	}
	return path, m
}

var (
	amzSigRe = regexp.MustCompile(`(?i)x-amz-signature"?[=:]"?([0-9a-f]{64})`)
	cfSigRe  = regexp.MustCompile(`(?:[?&]Signature=|CloudFront-Signature=)([A-Za-z0-9_~-]{40,})`)
)

// signaturesIn collects every SigV4 and CloudFront signature value of an
// answer (Location, Set-Cookie, body) into into.
func signaturesIn(hdr http.Header, body []byte, into map[string]string) {
	text := strings.Join(append(hdr.Values("Location"), hdr.Values("Set-Cookie")...), "\n") + "\n" + string(body)
	for _, m := range amzSigRe.FindAllStringSubmatch(text, -1) {
		into["X-Amz-Signature "+m[1][:8]] = m[1]
	}
	for _, m := range cfSigRe.FindAllStringSubmatch(text, -1) {
		into["CloudFront Signature "+m[1][:8]] = m[1]
	}
}

// TestNoSecretsInLogsOrErrors runs a representative set of requests (S3
// with static keys and a session token, with container credentials and a
// session token, with an assumed role; CloudFront URLs, custom policies and
// cookies; GET, HEAD, PUT, POST forms, JSON answers; 400, 405 and 503)
// through Caddy with its log at DEBUG, and checks that neither the log (the
// handler's lines, and the errors it returned, which Caddy logs) nor any
// error body holds a secret access key, session token, private key or any
// signature handed out. (Start-up errors of configs that hold secrets:
// TestNoSecretsInStartErrors in the root package.)
func TestNoSecretsInLogsOrErrors(t *testing.T) {
	keyFile, secrets := cfKeySecrets(t)
	ctr := useContainerCreds(t, "ASIACONTAINERKEYID", leakCtrSecret, leakCtrToken, 3*time.Second)
	sts := &fakeSTS{id: "ASIAROLEKEYID", key: leakRoleSecret}
	stsSrv := httptest.NewServer(sts)
	defer stsSrv.Close()
	t.Setenv("AWS_ENDPOINT_URL_STS", stsSrv.URL)

	port := harness.Port(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	caddy := harness.LoadCaddy(t, site(port, `presign {
		profile static s3 {
			bucket secrets
			region us-east-1
			endpoint http://127.0.0.1:9
			path_style
			access_key_id AKIDSTATICKEYID
			secret_access_key `+leakStaticSecret+`
			session_token `+leakStaticToken+`
		}
		profile ctr s3 {
			bucket secrets
			region us-east-1
			endpoint http://127.0.0.1:9
			path_style
			credentials_timeout 1s
		}
		profile role s3 {
			bucket secrets
			region eu-west-1
			access_key_id AKIDBASEKEYID
			secret_access_key `+leakBaseSecret+`
			role_arn arn:aws:iam::123456789012:role/presign
		}
		profile cf cloudfront {
			domain d111111abcdef8.cloudfront.net
			key_pair_id K2JCJMDEHXQW5F
			private_key_file `+keyFile+`
		}
		rule /s/* {
			profile static
			methods GET HEAD PUT POST
			content_disposition attachment
		}
		rule /sj/* {
			profile static
			respond json
		}
		rule /c/* {
			profile ctr
			methods GET PUT POST
		}
		rule /r/* {
			profile role
		}
		rule /cf/* {
			profile cf
		}
		rule /cfp/* {
			profile cf
			resource https://d111111abcdef8.cloudfront.net/cfp/*
			bind_client_ip
		}
		rule /cfc/* {
			profile cf
			cookies
		}
	}`), "debug")

	for k, v := range map[string]string{
		"static secret": leakStaticSecret, "static token": leakStaticToken,
		"container secret": leakCtrSecret, "container token": leakCtrToken,
		"role base secret": leakBaseSecret, "role secret": leakRoleSecret, "role token": leakRoleToken,
	} {
		secrets[k] = v
	}
	var errBodies []string
	signed, refused := 0, 0
	do := func(method, path string, want int) http.Header {
		t.Helper()
		code, hdr, body := harness.Fetch(t, method, base+path, nil)
		if code != want {
			t.Fatalf("%s %s: %d %q, want %d", method, path, code, body, want)
		}
		signaturesIn(hdr, body, secrets)
		if code < 400 {
			signed++
		} else {
			refused++
			errBodies = append(errBodies, fmt.Sprintf("%s %s: %d %q", method, path, code, body))
		}
		return hdr
	}
	for _, r := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/s/report.pdf", 302},
		{"HEAD", "/s/report.pdf", 302},
		{"PUT", "/s/up.bin", 307},
		{"POST", "/s/form.bin", 200},
		{"GET", "/sj/a.txt", 200},
		{"GET", "/s/a//b", 400},
		{"GET", "/s/a/%2e%2e/", 400},
		{"DELETE", "/s/a", 405},
		{"GET", "/c/a.txt", 302},
		{"PUT", "/c/a.txt", 307},
		{"POST", "/c/form.bin", 200},
		{"HEAD", "/c/a", 405},
		{"GET", "/r/a.txt", 302},
		{"GET", "/cf/a.txt", 302},
		{"GET", "/cfp/a.txt", 302},
		{"GET", "/cfc/a.txt", 302},
		{"GET", "/cf/a/../b", 400},
		{"PUT", "/cf/a", 405},
	} {
		do(r.method, r.path, r.want)
	}
	// the session tokens are handed out (they are part of the URL), so the
	// check below is about logs and errors only
	if loc := do("GET", "/c/b.txt", 302).Get("Location"); !strings.Contains(loc, leakCtrToken) {
		t.Fatalf("the container credentials did not sign: %s", loc)
	}

	// the provider fails once the credentials it gave have expired: 503,
	// logged at error level, still without a secret
	ctr.set("error")
	time.Sleep(3500 * time.Millisecond)
	if hdr := do("GET", "/c/a.txt", 503); hdr.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}

	log := caddy.LogText()
	if n := strings.Count(log, `"msg":"presigned"`); n != signed {
		t.Errorf("the log has %d debug lines for %d signed answers: is it at DEBUG?\n%s", n, signed, log)
	}
	if !strings.Contains(log, `"level":"error"`) || !strings.Contains(log, "credentials unavailable") {
		t.Errorf("the 503 was not logged at error level:\n%s", log)
	}
	// Caddy logs the error of every refused request, with its status
	if n := strings.Count(log, `"logger":"http.log.error"`); n < refused {
		t.Errorf("the log holds %d errors of the handler for %d refused requests: were they checked?\n%s", n, refused, log)
	}
	if len(secrets) < 7+3+10 {
		t.Errorf("only %d secrets and signatures collected; the signature patterns miss some", len(secrets))
	}
	if found := secretsIn(log, secrets); len(found) > 0 {
		t.Errorf("Caddy's log holds %v:\n%s", found, log)
	}
	for _, e := range errBodies {
		if found := secretsIn(e, secrets); len(found) > 0 {
			t.Errorf("%s holds %v", e, found)
		}
	}
}

// accessLogFilter is docs/operations.md's access-log filter, as written,
// with an output file (a %s) added.
func accessLogFilter(t *testing.T) string {
	t.Helper()
	f := docSnippet(t, "docs/operations.md", "caddyfile", "access-log")
	if !strings.HasPrefix(f, "log {\n") {
		t.Fatalf("docs/operations.md's access-log filter is no log block: %q", f)
	}
	return "log {\n\toutput file %s\n" + strings.TrimPrefix(f, "log {\n")
}

// TestAccessLogFilter runs a real Caddy with debug logging and two sites
// with the same presign config: one with docs/operations.md's access-log filter,
// one with a plain JSON access log. With the filter, the access log records
// the redirects (status, Location's host and path) but no signature,
// credential, session token or policy; without it, it holds them (so that
// this test can fail). Caddy's own log, at DEBUG, holds none on either site.
func TestAccessLogFilter(t *testing.T) {
	keyFile, secrets := cfKeySecrets(t)
	secrets["secret"], secrets["token"] = leakStaticSecret, leakStaticToken
	dir := t.TempDir()
	filtered, plain := filepath.Join(dir, "filtered.log"), filepath.Join(dir, "plain.log")
	p1, p2 := harness.Port(t), harness.Port(t)
	presignBlock := `presign {
		profile s s3 {
			bucket logs-bucket
			region us-east-1
			endpoint http://127.0.0.1:9
			path_style
			access_key_id AKIDACCESSLOG
			secret_access_key ` + leakStaticSecret + `
			session_token ` + leakStaticToken + `
		}
		profile cf cloudfront {
			domain d111111abcdef8.cloudfront.net
			key_pair_id K2JCJMDEHXQW5F
			private_key_file ` + keyFile + `
		}
		rule /s/* {
			profile s
		}
		rule /cf/* {
			profile cf
		}
		rule /cfp/* {
			profile cf
			resource https://d111111abcdef8.cloudfront.net/cfp/*
		}
		rule /cfc/* {
			profile cf
			cookies
		}
	}`
	p := harness.StartCaddy(t, site(p1, fmt.Sprintf(accessLogFilter(t), filtered)+"\n\t"+presignBlock)+"\n"+
		site(p2, "log {\n\t\toutput file "+plain+"\n\t\tformat json\n\t}\n\t"+presignBlock), []int{p1, p2}, "debug")

	for _, port := range []int{p1, p2} {
		for _, path := range []string{"/s/a.txt", "/s/b%20c.txt", "/cf/a.txt", "/cfp/a.txt", "/cfc/a.txt", "/s/a//b", "/other"} {
			want := 302
			switch path {
			case "/s/a//b":
				want = 400
			case "/other":
				want = 418
			}
			code, hdr, body := harness.Fetch(t, "GET", "http://127.0.0.1:"+strconv.Itoa(port)+path, nil)
			if code != want {
				t.Fatalf("GET %s on :%d: %d %q, want %d", path, port, code, body, want)
			}
			signaturesIn(hdr, nil, secrets)
		}
	}
	if len(secrets) < 4+2*4 {
		t.Fatalf("only %d secrets and signatures collected", len(secrets))
	}

	// the access logs are written as the requests end; wait for both
	var fl, pl string
	deadline := time.Now().Add(10 * time.Second)
	for {
		f, _ := os.ReadFile(filtered)
		pb, _ := os.ReadFile(plain)
		fl, pl = string(f), string(pb)
		if strings.Count(fl, "handled request") >= 7 && strings.Count(pl, "handled request") >= 7 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := strings.Count(fl, "handled request"); n < 7 {
		t.Fatalf("the filtered access log has %d lines, want 7:\n%s", n, fl)
	}
	for _, s := range []string{"X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token", "Signature=", "Policy=", "Key-Pair-Id", "CloudFront-"} {
		if strings.Contains(fl, s) {
			t.Errorf("the filtered access log holds %q", s)
		}
	}
	if found := secretsIn(fl, secrets); len(found) > 0 {
		t.Errorf("the filtered access log holds %v:\n%s", found, fl)
	}
	// it still says where the redirects went
	for _, s := range []string{`"status":302`, "http://127.0.0.1:9/logs-bucket/s/a.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256", "https://d111111abcdef8.cloudfront.net/cf/a.txt?Expires=", `"status":400`} {
		if !strings.Contains(fl, s) {
			t.Errorf("the filtered access log lacks %q:\n%s", s, fl)
		}
	}
	// without the filter, Caddy's access log records the signed URLs
	if !strings.Contains(pl, leakStaticToken) || !strings.Contains(pl, "X-Amz-Signature=") || !strings.Contains(pl, "Signature=") {
		t.Errorf("the unfiltered access log holds only %v: this test could not tell a working filter from a broken one:\n%s", secretsIn(pl, secrets), pl)
	}
	// Caddy's own log, at DEBUG, holds nothing on either site
	own := p.LogText()
	if !strings.Contains(own, `"level":"debug"`) {
		t.Errorf("Caddy's log has no debug line; is debug on?")
	}
	if found := secretsIn(own, secrets); len(found) > 0 {
		t.Errorf("Caddy's own log holds %v", found)
	}
}
