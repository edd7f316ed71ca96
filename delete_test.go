package presign

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/caddy-presign/presign/internal/gcsverify"
)

// TestDeleteThroughHandler: a rule with DELETE answers it with 307 to a URL
// presigned for DELETE on s3 (SigV4, another signature than the key's GET),
// azure (a SAS with sp=d only) and gcs (a V4 URL that verifies as a DELETE
// and not as a GET, and not once tampered); `respond json` answers
// {"method":"DELETE","url",...}; the key template's user placeholder and
// the key checks apply as to PUT; Allow lists DELETE.
func TestDeleteThroughHandler(t *testing.T) {
	acct := gcsTestAccount(t)
	file, pub := acct.File, acct.Public
	h := newHandler(t, `presign {
		`+s3Static("s", "bucket1", "eu-central-1")+`
		profile az azure {
			account devstoreaccount1
			container media
			account_key `+azuriteKey+`
		}
		profile g gcs {
			bucket my-bucket
			service_account_file `+file+`
		}
		rule /s3/* {
			profile s
			strip_prefix /s3
			key users/{http.auth.user.id}/{presign.path}
			methods GET DELETE
		}
		rule /az/* {
			profile az
			strip_prefix /az
			methods GET DELETE
			content_type text/plain
		}
		rule /g/* {
			profile g
			strip_prefix /g
			methods DELETE
		}
		rule /json/* {
			profile s
			strip_prefix /json
			methods DELETE
			respond json
		}
	}`)
	del := func(path, user string) answer {
		t.Helper()
		return serveRequest(t, h, httptest.NewRequest(http.MethodDelete, path, nil), user)
	}
	redirect := func(a answer, origin string) *url.URL {
		t.Helper()
		loc := a.Header.Get("Location")
		if a.Code != http.StatusTemporaryRedirect || !strings.HasPrefix(loc, origin) {
			t.Fatalf("DELETE: %d %q (%v), want 307 to %s...", a.Code, loc, a.Err, origin)
		}
		u, err := url.Parse(loc)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}

	u := redirect(del("/s3/old%20file.txt", "alice"), "https://bucket1.s3.eu-central-1.amazonaws.com/users/alice/old%20file.txt?")
	get := serveRequest(t, h, httptest.NewRequest(http.MethodGet, "/s3/old%20file.txt", nil), "alice")
	gu, _ := url.Parse(get.Header.Get("Location"))
	if sig := u.Query().Get("X-Amz-Signature"); sig == "" || sig == gu.Query().Get("X-Amz-Signature") {
		t.Errorf("DELETE URL %s has no signature of its own (GET's: %s)", u, gu)
	}
	if a := del("/s3/a//b", "alice"); a.Code != http.StatusBadRequest {
		t.Errorf("DELETE of a bad key: %d, want 400", a.Code)
	}

	u = redirect(del("/az/dir/x.txt", ""), "https://devstoreaccount1.blob.core.windows.net/media/dir/x.txt?")
	if q := u.Query(); q.Get("sp") != "d" || q.Get("sr") != "b" || q.Has("rsct") {
		t.Errorf("Azure DELETE SAS %s: want sp=d, sr=b and no download override", u)
	}

	loc := redirect(del(pathFor("/g/", "dir/ünï x.bin"), ""), "https://storage.googleapis.com/my-bucket/dir/").String()
	if _, err := gcsverify.URL(pub, "DELETE", loc, ""); err != nil {
		t.Errorf("GCS DELETE URL does not verify: %v\n%s", err, loc)
	}
	if _, err := gcsverify.URL(pub, "GET", loc, ""); err == nil {
		t.Error("a GCS DELETE URL verifies as a GET")
	}
	if _, err := gcsverify.URL(pub, "DELETE", gcsverify.Tamper(loc), ""); err == nil {
		t.Error("a tampered GCS DELETE URL verifies")
	}

	a := del("/json/k.txt", "")
	var ans struct{ Method, URL string }
	if err := json.Unmarshal([]byte(a.Body), &ans); err != nil || a.Code != http.StatusOK || ans.Method != "DELETE" ||
		!strings.HasPrefix(ans.URL, "https://bucket1.s3.eu-central-1.amazonaws.com/k.txt?") {
		t.Errorf("respond json: %d %s (%v)", a.Code, a.Body, err)
	}

	for _, c := range []struct{ method, target, allow string }{
		{"PUT", "/s3/x", "GET, DELETE"},
		{"GET", "/g/x", "DELETE"},
	} {
		a := serve(t, h, c.method, c.target)
		if a.Code != http.StatusMethodNotAllowed || a.Header.Get("Allow") != c.allow {
			t.Errorf("%s %s: %d Allow %q, want 405 Allow %q", c.method, c.target, a.Code, a.Header.Get("Allow"), c.allow)
		}
	}
}
