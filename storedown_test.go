package presign

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/zap/zapcore"

	"github.com/caddy-presign/presign/signers/signerstest"
)

// TestStoreDownWithoutAddress: when a profile's store is down (nothing
// listens at its endpoint), check_exists, browse and uppy's calls answer
// 502 with a reason, and neither the answer, nor the error Caddy logs,
// nor the handler's error line holds the store's address; the error line
// still says why (connection refused). For S3, Cloud Storage and Azure.
func TestStoreDownWithoutAddress(t *testing.T) {
	down := signerstest.DownURL()
	rules := func(profile string, uppy bool) string {
		s := fmt.Sprintf(`
		rule /%[1]s/dl/* {
			profile %[1]s
			strip_prefix /%[1]s/dl
			check_exists
		}
		rule /%[1]s/files/* {
			profile %[1]s
			strip_prefix /%[1]s/files
			browse
		}`, profile)
		if uppy {
			s += fmt.Sprintf(`
		rule /%[1]s/up/* {
			profile %[1]s
			strip_prefix /%[1]s/up
			uppy
		}`, profile)
		}
		return s
	}
	h := newHandler(t, `presign {
		`+s3Static("s3", "media", "us-east-1", "endpoint "+down, "path_style", "api_timeout 2s")+`
		profile gcs gcs {
			bucket media
			service_account_file `+gcsTestAccount(t).File+`
			endpoint `+down+`
		}
		profile azure azure {
			account devstoreaccount1
			container media
			account_key `+azuriteKey+`
			endpoint `+down+`/devstoreaccount1
		}
		`+rules("s3", true)+rules("gcs", false)+rules("azure", false)+`
	}`)
	logs := observe(h)
	for _, c := range []struct{ method, target, body string }{
		{"GET", "/s3/dl/a.txt", ""},
		{"GET", "/s3/files/docs/", ""},
		{"POST", "/s3/up/s3/multipart", `{"filename":"a.txt","type":"text/plain"}`},
		{"GET", "/gcs/dl/a.txt", ""},
		{"GET", "/gcs/files/docs/", ""},
		{"GET", "/azure/dl/a.txt", ""},
		{"GET", "/azure/files/docs/", ""},
	} {
		what := c.method + " " + c.target
		n := logs.Len()
		r := httptest.NewRequest(c.method, c.target, strings.NewReader(c.body))
		if c.body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		a := serveRequest(t, h, r, "alice")
		if a.Code != http.StatusBadGateway {
			t.Errorf("%s: status %d, want 502", what, a.Code)
		}
		seen := map[string]string{"the answer's body": a.Body, "the answer's headers": fmt.Sprint(a.Header)}
		if a.Err != nil {
			seen["the error Caddy logs"] = a.Err.Error()
		}
		lines := logs.All()[n:]
		if len(lines) != 1 || lines[0].Level != zapcore.ErrorLevel {
			t.Fatalf("%s: logged %v, want one error line", what, lines)
		}
		line := fmt.Sprintf("%s %v", lines[0].Message, lines[0].ContextMap())
		seen["the error line"] = line
		for where, text := range seen {
			if addr := signerstest.AddressIn(text, down); addr != "" {
				t.Errorf("%s: %s holds the store's address (%s): %s", what, where, addr, text)
			}
		}
		if !strings.Contains(line, "connection refused") {
			t.Errorf("%s: the error line does not say why (connection refused): %s", what, line)
		}
	}
}
