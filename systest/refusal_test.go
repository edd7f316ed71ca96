package systest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/caddy-presign/presign/systest/harness"
)

// One refusal contract for every store, through a Caddy process: a
// refusal the request caused (a continuation token the store never
// issued) is 400, logged at debug level only and counted as bad_key; an
// answer that is not the store's own (a 200 HTML page without an ETag to
// an existence check) is 502 at error level, never 302.

// tokenRefuser stands in for AWS S3 (kind "s3") or Azure's blob service
// ("azure") where versitygw and Azurite are lenient: both list from a
// continuation token or marker they never issued. A listing with one is
// answered as the service documents its refusal: S3's 400 InvalidArgument
// naming the continuation-token argument, Azure's 400
// InvalidQueryParameterValue (x-ms-error-code, the parameter named in the
// XML error). It verifies no signature and answers nothing else (501).
func tokenRefuser(t *testing.T, kind string) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		w.Header().Set("Content-Type", "application/xml")
		switch {
		case kind == "s3" && q.Get("list-type") == "2" && q.Get("continuation-token") != "":
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidArgument</Code>`+
				`<Message>The continuation token provided is incorrect</Message><ArgumentName>continuation-token</ArgumentName>`+
				`<ArgumentValue>%s</ArgumentValue><RequestId>1</RequestId></Error>`, q.Get("continuation-token"))
		case kind == "azure" && q.Get("comp") == "list" && q.Get("marker") != "":
			w.Header().Set("x-ms-error-code", "InvalidQueryParameterValue")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `<?xml version="1.0" encoding="utf-8"?><Error><Code>InvalidQueryParameterValue</Code>`+
				`<Message>Value for one of the query parameters specified in the request URI is invalid.</Message>`+
				`<QueryParameterName>marker</QueryParameterName><QueryParameterValue>%s</QueryParameterValue>`+
				`<Reason>Invalid marker</Reason></Error>`, q.Get("marker"))
		default:
			w.WriteHeader(http.StatusNotImplemented)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// htmlStore answers every request 200 with an HTML page and no ETag, as a
// proxy's maintenance page in front of a store would.
func htmlStore(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte("<html><body>down for maintenance</body></html>"))
	}))
	t.Cleanup(s.Close)
	return s
}

// TestStoreRefusals: a refusal the request caused is 400, counted as
// bad_key, and logs nothing at error level, on every kind: a forged
// continuation token on a browse rule against the tests' Cloud Storage
// and against the stand-ins that answer as S3 and Azure document it, and
// a key with a 300-byte segment, which versitygw refuses, on a
// check_exists rule. Every kind's check_exists against a store that
// answers 200 HTML without an ETag is 502 at error level, never 302.
func TestStoreRefusals(t *testing.T) {
	s3 := harness.StartS3(t)
	s3.CreateBucket(t, "media")
	acct := harness.GCSTestAccount(t)
	gcs := harness.StartGCSServer(t, "media", acct)
	keys := []string{"a.txt", "b.txt", "c.txt"}
	for _, k := range keys {
		gcs.Put(k, []byte(k))
	}
	s3doc, azdoc, html := tokenRefuser(t, "s3"), tokenRefuser(t, "azure"), htmlStore(t)

	s3At := func(name, endpoint string) string {
		return fmt.Sprintf(`profile %s s3 {
			bucket media
			region us-east-1
			endpoint %s
			path_style
			access_key_id AKID
			secret_access_key SECRET
		}`, name, endpoint)
	}
	azureAt := func(name, endpoint string) string {
		return `profile ` + name + ` azure {
			account ` + harness.AzuriteAccount + `
			container media
			account_key ` + harness.AzuriteKey + `
			endpoint ` + endpoint + `/` + harness.AzuriteAccount + `
		}`
	}
	gcsAt := func(name, endpoint string) string {
		return `profile ` + name + ` gcs {
			bucket media
			service_account_file ` + acct.File + `
			endpoint ` + endpoint + `
		}`
	}
	profiles := []string{
		s3.Profile("s3", "media"), s3At("s3doc", s3doc.URL), s3At("s3html", html.URL),
		gcsAt("gcs", gcs.URL), gcsAt("gcshtml", html.URL),
		azureAt("azdoc", azdoc.URL), azureAt("azhtml", html.URL),
	}
	var rules []string
	for _, p := range []string{"s3doc", "gcs", "azdoc"} {
		rules = append(rules, fmt.Sprintf(`rule /%s/* {
			profile %s
			strip_prefix /%s
			browse
		}`, p, p, p))
	}
	for _, p := range []string{"s3", "s3html", "gcshtml", "azhtml"} {
		rules = append(rules, fmt.Sprintf(`rule /%s/* {
			profile %s
			strip_prefix /%s
			check_exists
		}`, p, p, p))
	}
	port := harness.Port(t)
	c := harness.StartCaddy(t, site(port, presignBlock(append(profiles, rules...)...)), []int{port}, "metrics", "debug")
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	badKeys := func(p string) float64 {
		v, _ := harness.MetricValue(c.Metrics(), fmt.Sprintf(`caddy_presign_answers_total{method="GET",outcome="bad_key",profile="%s",rule="/%s/*"}`, p, p))
		return v
	}

	// a token the store never issued: printable, so that it passes
	// Caddy's own check and reaches the store (on Azure, the base64url of
	// a marker)
	for _, p := range []string{"s3doc", "gcs", "azdoc"} {
		code, _, body := harness.Fetch(t, "GET", base+"/"+p+"/?continue=Zm9yZ2Vk", nil, acceptJSON)
		if code != http.StatusBadRequest || badKeys(p) != 1 {
			t.Errorf("%s: a forged token: %d %q, counted %v as bad_key; want 400, once", p, code, harness.Clipped(string(body), 300), badKeys(p))
		}
	}
	if items, _ := listJSON(t, base+"/gcs/"); len(items) != len(keys) {
		t.Errorf("the listing after the refusal: %+v", items)
	}
	long := strings.Repeat("x", 300) + "/a.txt"
	if code, _, body := harness.Fetch(t, "GET", base+"/s3/"+long, nil); code != http.StatusBadRequest || badKeys("s3") != 1 {
		t.Errorf("versitygw: a 300-byte segment: %d %q, counted %v as bad_key; want 400, once", code, harness.Clipped(string(body), 300), badKeys("s3"))
	}
	log := c.LogText()
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, `"level":"error"`) {
			t.Errorf("a refusal the request caused was logged at error level: %s", line)
		}
	}
	if n := strings.Count(log, `"msg":"store refused the request"`); n != 4 {
		t.Errorf("%d debug lines of a refusal, want 4:\n%s", n, log)
	}

	for _, p := range []string{"s3html", "gcshtml", "azhtml"} {
		for _, m := range []string{"GET", "HEAD"} {
			code, hdr, _ := harness.Fetch(t, m, base+"/"+p+"/a.txt", nil)
			if code != http.StatusBadGateway || hdr.Get("Location") != "" {
				t.Errorf("%s %s: check_exists against an HTML page: %d, Location %q; want 502 and none", p, m, code, hdr.Get("Location"))
			}
		}
		series := fmt.Sprintf(`caddy_presign_answers_total{method="GET",outcome="store_error",profile="%s",rule="/%s/*"}`, p, p)
		if v, ok := harness.MetricValue(c.Metrics(), series); !ok || v != 1 {
			t.Errorf("%s: %s = %v (present %v), want 1", p, series, v, ok)
		}
	}
	log = c.LogText()
	if n := strings.Count(log, `"msg":"store request failed"`); n != 6 || strings.Count(log, "answered 200 without an ETag") != 6 {
		t.Errorf("%d error lines of the handler, want 6 naming the missing ETag:\n%s", n, log)
	}
}
