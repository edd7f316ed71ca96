package presign

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestDeleteThroughHandler: a rule with DELETE answers it with 307 to the
// URL its profile signed for a DELETE of the key (another than the key's
// GET); `respond json` answers {"method":"DELETE","url",...}; the key
// template's user placeholder and the key checks apply as to PUT; Allow
// lists DELETE. (That each kind signs DELETE with the least permission, so
// that its URL verifies as a DELETE only, and not once tampered: the
// conformance suite, run by each kind's package.)
func TestDeleteThroughHandler(t *testing.T) {
	h := newHandler(t, `presign {
		`+recordingProfile("s")+`
		rule /s3/* {
			profile s
			strip_prefix /s3
			key users/{http.auth.user.id}/{presign.path}
			methods GET DELETE
		}
		rule /g/* {
			profile s
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
	clock := time.Unix(1767225600, 0)
	at(h, clock)
	exp := clock.Add(15 * time.Minute)
	del := func(path, user string) answer {
		t.Helper()
		return serveRequest(t, h, httptest.NewRequest(http.MethodDelete, path, nil), user)
	}
	redirect := func(a answer, want string) {
		t.Helper()
		if loc := a.Header.Get("Location"); a.Code != http.StatusTemporaryRedirect || loc != want {
			t.Fatalf("DELETE: %d %q (%v), want 307 to %s", a.Code, loc, a.Err, want)
		}
	}

	redirect(del("/s3/old%20file.txt", "alice"), recordingURL("users/alice/old file.txt", "DELETE", exp))
	get := serveRequest(t, h, httptest.NewRequest(http.MethodGet, "/s3/old%20file.txt", nil), "alice")
	if want := recordingURL("users/alice/old file.txt", "GET", exp); get.Code != http.StatusFound || get.Header.Get("Location") != want {
		t.Errorf("GET of the DELETE rule: %d %q, want 302 to %s", get.Code, get.Header.Get("Location"), want)
	}
	if a := del("/s3/a//b", "alice"); a.Code != http.StatusBadRequest {
		t.Errorf("DELETE of a bad key: %d, want 400", a.Code)
	}
	if a := del("/s3/x", ""); a.Code != http.StatusBadRequest {
		t.Errorf("DELETE without a user for a key of users: %d, want 400", a.Code)
	}
	redirect(del(pathFor("/g/", "dir/ünï x.bin"), ""), recordingURL("dir/ünï x.bin", "DELETE", exp))
	asked := recorded(t, h, "s")
	for _, r := range asked {
		if r.Method == http.MethodDelete && (r.Expires != 15*time.Minute || !r.SignTime.Equal(clock)) {
			t.Errorf("DELETE of %q signed at %s for %s, want at %s for the profile's 15m", r.Key, r.SignTime, r.Expires, clock)
		}
	}

	a := del("/json/k.txt", "")
	var ans struct {
		Method, URL string
		ExpiresAt   time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal([]byte(a.Body), &ans); err != nil || a.Code != http.StatusOK || ans.Method != "DELETE" ||
		ans.URL != recordingURL("k.txt", "DELETE", exp) || !ans.ExpiresAt.Equal(exp) {
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
