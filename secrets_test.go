package presign

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
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

// syncBuffer is a bytes.Buffer safe for concurrent writers, for a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Sync() error { return nil }

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

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

// pemSecrets are the lines of a PEM private key that must never show: its
// armour and a few lines of its body.
func pemSecrets(pemBytes []byte) map[string]string {
	m := map[string]string{"PEM armour": "PRIVATE KEY"}
	lines := strings.Split(strings.TrimSpace(string(pemBytes)), "\n")
	for i := 1; i < len(lines)-1; i += 5 {
		m["PEM line "+strconv.Itoa(i)] = lines[i]
	}
	return m
}

var (
	amzSigRe = regexp.MustCompile(`(?i)x-amz-signature"?[=:]"?([0-9a-f]{64})`)
	cfSigRe  = regexp.MustCompile(`(?:[?&]Signature=|CloudFront-Signature=)([A-Za-z0-9_~-]{40,})`)
)

// signaturesIn collects every SigV4 and CloudFront signature value in text
// (Locations, JSON bodies, Set-Cookie lines).
func signaturesIn(text string, into map[string]string) {
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
// cookies; GET, HEAD, PUT, POST forms, JSON answers; 400, 405 and 503) with
// the handler's logger at DEBUG captured, and checks that neither the log
// nor any error the handler returns (which Caddy logs) nor any error body
// holds a secret access key, session token, private key or any signature
// handed out. Start-up errors of configs that hold secrets do not either.
func TestNoSecretsInLogsOrErrors(t *testing.T) {
	keyFile, keyPEM := cloudFrontKeyFile(t)
	ctr := useContainerCreds(t, "ASIACONTAINERKEYID", leakCtrSecret, leakCtrToken, 3*time.Second)
	sts := &fakeSTS{id: "ASIAROLEKEYID", key: leakRoleSecret}
	stsSrv := httptest.NewServer(sts)
	defer stsSrv.Close()
	t.Setenv("AWS_ENDPOINT_URL_STS", stsSrv.URL)

	h := newHandler(t, `presign {
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
	}`)
	logs := &syncBuffer{}
	enc := zap.NewProductionEncoderConfig()
	h.logger = zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(enc), logs, zapcore.DebugLevel))

	secrets := map[string]string{
		"static secret": leakStaticSecret, "static token": leakStaticToken,
		"container secret": leakCtrSecret, "container token": leakCtrToken,
		"role base secret": leakBaseSecret, "role secret": leakRoleSecret, "role token": leakRoleToken,
	}
	for k, v := range pemSecrets(keyPEM) {
		secrets[k] = v
	}
	var errTexts []string
	signed := 0
	do := func(method, target string, want int) answer {
		t.Helper()
		a := serve(t, h, method, target)
		if a.Code != want {
			t.Fatalf("%s %s: %d (%v), want %d", method, target, a.Code, a.Err, want)
		}
		var all strings.Builder
		for _, v := range a.Header.Values("Location") {
			all.WriteString(v + "\n")
		}
		for _, v := range a.Header.Values("Set-Cookie") {
			all.WriteString(v + "\n")
		}
		all.WriteString(a.Body)
		signaturesIn(all.String(), secrets)
		if a.Err != nil {
			errTexts = append(errTexts, fmt.Sprintf("%s %s: error %q, body %q", method, target, a.Err.Error(), a.Body))
		}
		if a.Code < 400 {
			signed++
		}
		return a
	}
	for _, r := range []struct {
		method, target string
		want           int
	}{
		{"GET", "/s/report.pdf", 302}, {"HEAD", "/s/report.pdf", 302}, {"PUT", "/s/up.bin", 307},
		{"POST", "/s/form.bin", 200}, {"GET", "/sj/a.txt", 200},
		{"GET", "/s/a//b", 400}, {"GET", "/s/a/%2e%2e/", 400}, {"DELETE", "/s/a", 405},
		{"GET", "/c/a.txt", 302}, {"PUT", "/c/a.txt", 307}, {"POST", "/c/form.bin", 200}, {"HEAD", "/c/a", 405},
		{"GET", "/r/a.txt", 302},
		{"GET", "/cf/a.txt", 302}, {"GET", "/cfp/a.txt", 302}, {"GET", "/cfc/a.txt", 302},
		{"GET", "/cf/a/../b", 400}, {"PUT", "/cf/a", 405},
	} {
		do(r.method, r.target, r.want)
	}
	// the session tokens are handed out (they are part of the URL), so the
	// check below is about logs and errors only
	if loc := do("GET", "/c/b.txt", 302).Header.Get("Location"); !strings.Contains(loc, leakCtrToken) {
		t.Fatalf("the container credentials did not sign: %s", loc)
	}

	// the provider fails once the credentials it gave have expired: 503,
	// logged at error level, still without a secret
	ctr.set("error")
	time.Sleep(3500 * time.Millisecond)
	a := do("GET", "/c/a.txt", 503)
	if a.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}

	log := logs.String()
	if n := strings.Count(log, `"msg":"presigned"`); n != signed {
		t.Errorf("captured %d debug lines for %d signed answers: is the logger captured?\n%s", n, signed, log)
	}
	if !strings.Contains(log, `"level":"error"`) || !strings.Contains(log, "credentials unavailable") {
		t.Errorf("the 503 was not logged at error level:\n%s", log)
	}
	if len(secrets) < 7+3+10 {
		t.Errorf("only %d secrets and signatures collected; the signature patterns miss some", len(secrets))
	}
	if found := secretsIn(log, secrets); len(found) > 0 {
		t.Errorf("the debug log holds %v:\n%s", found, log)
	}
	for _, e := range errTexts {
		if found := secretsIn(e, secrets); len(found) > 0 {
			t.Errorf("%s holds %v", e, found)
		}
	}
	if !strings.Contains(strings.Join(errTexts, "\n"), "credentials") {
		t.Errorf("no error text was checked: %q", errTexts)
	}

	// start-up errors of configs that hold secrets (the halves: of secrets
	// with a space, given unquoted)
	secrets["static secret, second half"] = leakStaticSecret[20:]
	secrets["static token, second half"] = leakStaticToken[12:]
	for _, c := range []struct{ name, block string }{
		{"endpoint with user info", `profile p s3 {
			bucket b-1
			region us-east-1
			endpoint https://AKIDLEAK:` + leakStaticSecret + `@s3.example.com
			access_key_id AKIDLEAK
			secret_access_key ` + leakStaticSecret + `
		}`},
		{"endpoint with user info and a path", `profile p s3 {
			bucket b-1
			region us-east-1
			endpoint https://AKIDLEAK:` + leakStaticSecret + `@s3.example.com/x
		}`},
		{"endpoint with user info, a slash in the secret", `profile p s3 {
			bucket b-1
			region us-east-1
			endpoint https://AKIDLEAK:ab/` + leakStaticSecret + `@s3.example.com
		}`},
		{"endpoint user info only", `profile p s3 {
			bucket b-1
			region us-east-1
			endpoint ` + leakStaticSecret + `@s3.example.com
		}`},
		{"secret without key id", `profile p s3 {
			bucket b-1
			region us-east-1
			secret_access_key ` + leakStaticSecret + `
		}`},
		{"token without keys", `profile p s3 {
			bucket b-1
			region us-east-1
			session_token ` + leakStaticToken + `
		}`},
		{"keys and aws_profile", `profile p s3 {
			bucket b-1
			region us-east-1
			access_key_id AKIDLEAK
			secret_access_key ` + leakStaticSecret + `
			aws_profile prod
		}`},
		{"secret with a space, unquoted", `profile p s3 {
			bucket b-1
			region us-east-1
			access_key_id AKIDLEAK
			secret_access_key ` + leakStaticSecret[:20] + ` ` + leakStaticSecret[20:] + `
		}`},
		{"token with a space, unquoted", `profile p s3 {
			bucket b-1
			region us-east-1
			access_key_id AKIDLEAK
			secret_access_key x
			session_token ` + leakStaticToken[:12] + ` ` + leakStaticToken[12:] + `
		}`},
		{"bad role", `profile p s3 {
			bucket b-1
			region us-east-1
			access_key_id AKIDLEAK
			secret_access_key ` + leakStaticSecret + `
			role_arn not-an-arn
		}`},
		{"cloudfront key cut short", "profile p cloudfront {\n\t\t\tdomain d1.cloudfront.net\n\t\t\tkey_pair_id K1\n\t\t\tprivate_key `" +
			string(keyPEM[:len(keyPEM)/2]) + "\n-----END PRIVATE KEY-----`\n\t\t}"},
		{"cloudfront key not quoted", "profile p cloudfront {\n\t\t\tdomain d1.cloudfront.net\n\t\t\tkey_pair_id K1\n\t\t\tprivate_key " +
			strings.ReplaceAll(string(keyPEM), "\n", "\n\t\t\t") + "\n\t\t}"},
		{"cloudfront key in a bad file", "profile p cloudfront {\n\t\t\tdomain d1.cloudfront.net\n\t\t\tkey_pair_id K1\n\t\t\tprivate_key_file " +
			writeFile(t, "bad.pem", strings.ReplaceAll(string(keyPEM), "A", "*")) + "\n\t\t}"},
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
			if found := secretsIn(err.Error(), secrets); len(found) > 0 {
				t.Errorf("the error holds %v: %v", found, err)
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

// accessLogFilter is the README's access-log filter, verbatim but for the
// output file.
const accessLogFilter = `log {
		output file %s
		format filter {
			wrap json
			fields {
				resp_headers>Location query {
					delete X-Amz-Signature
					delete X-Amz-Credential
					delete X-Amz-Security-Token
					delete Signature
					delete Policy
					delete Key-Pair-Id
				}
				resp_headers>Set-Cookie delete
			}
		}
	}`

// TestAccessLogFilter runs a real Caddy with debug logging and two sites
// with the same presign config: one with the README's access-log filter,
// one with a plain JSON access log. With the filter, the access log records
// the redirects (status, Location's host and path) but no signature,
// credential, session token or policy; without it, it holds them (so that
// this test can fail). Caddy's own log, at DEBUG, holds none on either site.
func TestAccessLogFilter(t *testing.T) {
	keyFile, keyPEM := cloudFrontKeyFile(t)
	dir := t.TempDir()
	filtered, plain := filepath.Join(dir, "filtered.log"), filepath.Join(dir, "plain.log")
	p1, p2 := loopbackPort(t), loopbackPort(t)
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
	}
	respond "next" 418`
	p := startCaddy(t, fmt.Sprintf(`http://127.0.0.1:%d {
	`+accessLogFilter+`
	%s
}

http://127.0.0.1:%d {
	log {
		output file %s
		format json
	}
	%s
}
`, p1, filtered, presignBlock, p2, plain, presignBlock), []int{p1, p2}, "debug")

	secrets := map[string]string{"secret": leakStaticSecret, "token": leakStaticToken}
	for k, v := range pemSecrets(keyPEM) {
		secrets[k] = v
	}
	client := loadClient(1)
	for _, port := range []int{p1, p2} {
		for _, path := range []string{"/s/a.txt", "/s/b%20c.txt", "/cf/a.txt", "/cfp/a.txt", "/cfc/a.txt", "/s/a//b", "/other"} {
			u := "http://127.0.0.1:" + strconv.Itoa(port) + path
			code, hdr, body, err := procGet(t.Context(), client, "GET", u)
			if err != nil {
				t.Fatalf("GET %s: %v", u, err)
			}
			want := 302
			switch path {
			case "/s/a//b":
				want = 400
			case "/other":
				want = 418
			}
			if code != want {
				t.Fatalf("GET %s: %d %q, want %d", u, code, body, want)
			}
			var all strings.Builder
			for _, k := range []string{"Location", "Set-Cookie"} {
				for _, v := range hdr.Values(k) {
					all.WriteString(v + "\n")
				}
			}
			signaturesIn(all.String(), secrets)
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
	if found := secretsIn(pl, secrets); !containsAll(found, "token") || !strings.Contains(pl, "X-Amz-Signature=") || !strings.Contains(pl, "Signature=") {
		t.Errorf("the unfiltered access log holds only %v: this test could not tell a working filter from a broken one:\n%s", found, pl)
	}
	// Caddy's own log, at DEBUG, holds nothing on either site
	own, err := os.ReadFile(p.Log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(own), `"level":"debug"`) {
		t.Errorf("Caddy's log has no debug line; is debug on?")
	}
	if found := secretsIn(string(own), secrets); len(found) > 0 {
		t.Errorf("Caddy's own log holds %v", found)
	}
}

func containsAll(list []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, l := range list {
			found = found || l == w
		}
		if !found {
			return false
		}
	}
	return true
}
