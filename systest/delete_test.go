package systest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-presign/presign/systest/harness"
)

// TestS3DeleteThroughRedirect: with methods GET DELETE and key
// users/{http.auth.user.id}/{presign.path} behind basic_auth, a DELETE is
// answered 307 to a URL that deletes the user's object on versitygw; the
// URL changed to another key (another user's object, or a tampered
// signature) is refused 403 and deletes nothing; bob's DELETE of the same
// path reaches his own key, never alice's; respond json names the method.
func TestS3DeleteThroughRedirect(t *testing.T) {
	s := harness.StartS3(t)
	s.CreateBucket(t, "shared")
	base := loadSite(t, basicAuth(t, "/mine/*", "alice", "bob")+"\n\t"+presignBlock(s.Profile("shared", "shared"), `rule /mine/* {
			profile shared
			methods GET DELETE
			strip_prefix /mine
			key users/{http.auth.user.id}/{presign.path}
		}`, `rule /json/* {
			profile shared
			methods DELETE
			strip_prefix /json
			respond json
		}`))
	for _, k := range []string{"users/alice/old file.txt", "users/alice/keep.txt", "users/bob/old file.txt"} {
		s.Put(t, "shared", k, []byte("bytes of "+k), "text/plain")
	}

	loc := location(t, http.StatusTemporaryRedirect, "DELETE", base+"/mine/old%20file.txt", as("alice"))
	want := s.Endpoint + "/shared/users/alice/old%20file.txt?"
	if !strings.HasPrefix(loc, want) {
		t.Fatalf("alice's DELETE: Location %q, want %s...", loc, want)
	}
	// the same signature on another key: alice's other object, bob's object
	for _, other := range []string{"users/alice/keep.txt", "users/bob/old file.txt"} {
		moved := strings.Replace(loc, "/users/alice/old%20file.txt?", pathFor("/", other)+"?", 1)
		if code, _, body := harness.Fetch(t, "DELETE", moved, nil); code != http.StatusForbidden {
			t.Errorf("the DELETE URL changed to %s: %d %s, want 403", other, code, body)
		}
		if !s.Exists(t, "shared", other) {
			t.Fatalf("%s was deleted through a URL signed for another key", other)
		}
	}
	if code, _, _ := harness.Fetch(t, "DELETE", harness.Tamper(t, loc), nil); code != http.StatusForbidden {
		t.Errorf("tampered DELETE URL: %d, want 403", code)
	}
	if code, _, _ := harness.Fetch(t, "GET", loc, nil); code != http.StatusForbidden {
		t.Errorf("the DELETE URL used to GET: %d, want 403", code)
	}
	if !s.Exists(t, "shared", "users/alice/old file.txt") {
		t.Fatal("alice's object went before its URL was used")
	}
	if code, _, body := harness.Fetch(t, "DELETE", loc, nil); code != http.StatusNoContent {
		t.Fatalf("DELETE through the redirect: %d %s, want 204", code, body)
	}
	if s.Exists(t, "shared", "users/alice/old file.txt") {
		t.Error("alice's object is still there after its DELETE URL was used")
	}

	// bob asks for the same path: his own key, and alice's is out of reach
	bobLoc := location(t, http.StatusTemporaryRedirect, "DELETE", base+"/mine/keep.txt", as("bob"))
	if !strings.HasPrefix(bobLoc, s.Endpoint+"/shared/users/bob/keep.txt?") {
		t.Fatalf("bob's DELETE: Location %q, want his own key", bobLoc)
	}
	harness.Fetch(t, "DELETE", bobLoc, nil)
	if !s.Exists(t, "shared", "users/alice/keep.txt") {
		t.Error("bob's DELETE removed alice's object")
	}
	if code, _, _ := harness.Fetch(t, "DELETE", base+"/mine/keep.txt", nil); code != http.StatusUnauthorized {
		t.Errorf("DELETE without a user: %d, want 401", code)
	}

	code, _, body := harness.Fetch(t, "DELETE", base+"/json/users/bob/old%20file.txt", nil)
	var j struct{ Method, URL string }
	if err := json.Unmarshal(body, &j); err != nil || code != http.StatusOK || j.Method != "DELETE" {
		t.Fatalf("respond json: %d %s (%v)", code, body, err)
	}
	if code, _, _ := harness.Fetch(t, "DELETE", j.URL, nil); code != http.StatusNoContent || s.Exists(t, "shared", "users/bob/old file.txt") {
		t.Errorf("DELETE to the JSON answer's URL: %d, and the object is still there", code)
	}
}

// TestAzureDeleteThroughAzurite: a DELETE is answered 307 to a SAS with
// sp=d that deletes the blob on Azurite; the same SAS cannot delete another
// blob, nor read the blob; a tampered one is refused.
func TestAzureDeleteThroughAzurite(t *testing.T) {
	a := harness.StartAzurite(t, harness.AzuriteOptions{})
	a.CreateContainer(t, "media")
	a.Put(t, "media", "old dir/gone ü.txt", []byte("to delete"), "text/plain")
	a.Put(t, "media", "other.txt", []byte("the other blob"), "text/plain")
	base := loadSite(t, presignBlock(azureProfile(a), `rule /rm/* {
			profile az
			strip_prefix /rm
			methods GET DELETE
		}`))
	origin := a.Endpoint + "/media/"

	loc := location(t, http.StatusTemporaryRedirect, "DELETE", base+pathFor("/rm/", "old dir/gone ü.txt"))
	if !strings.HasPrefix(loc, origin) || !strings.Contains(loc, "sp=d&") {
		t.Fatalf("DELETE: Location %q, want a SAS with sp=d under %s", loc, origin)
	}
	_, query, _ := strings.Cut(loc, "?")
	if code, _, _ := fetchAzure(t, a, "DELETE", origin+"other.txt?"+query, ""); code != http.StatusForbidden {
		t.Errorf("the DELETE SAS on another blob: %d, want 403", code)
	}
	if code, _ := a.Get(t, "media", "other.txt"); code != http.StatusOK {
		t.Errorf("the other blob was deleted: %d", code)
	}
	if code, _, _ := fetchAzure(t, a, "DELETE", harness.TamperParam(t, loc, "sig"), ""); code != http.StatusForbidden {
		t.Errorf("tampered DELETE SAS: %d, want 403", code)
	}
	if code, _, _ := fetchAzure(t, a, "GET", loc, ""); code != http.StatusForbidden {
		t.Errorf("the DELETE SAS used to read: %d, want 403", code)
	}
	if code, _, body := fetchAzure(t, a, "DELETE", loc, ""); code != http.StatusAccepted {
		t.Fatalf("DELETE through the redirect: %d %s, want 202", code, body)
	}
	if code, _ := a.Get(t, "media", "old dir/gone ü.txt"); code != http.StatusNotFound {
		t.Errorf("the blob is still there after its DELETE SAS was used: %d", code)
	}
}
