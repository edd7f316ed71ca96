package presign

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-presign/presign/internal/testenv"
)

// fakeContainerCreds is a local stand-in for the ECS/EKS container
// credential endpoint that the AWS default chain asks when
// AWS_CONTAINER_CREDENTIALS_FULL_URI is set. Its mode decides what it does.
type fakeContainerCreds struct {
	mu       sync.Mutex
	mode     string // "ok", "error", "hang"
	id, key  string
	token    string
	lifetime time.Duration
	calls    int
	srv      *httptest.Server
}

func (f *fakeContainerCreds) set(mode string) {
	f.mu.Lock()
	f.mode = mode
	f.mu.Unlock()
}

func (f *fakeContainerCreds) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	mode, lifetime := f.mode, f.lifetime
	f.calls++
	f.mu.Unlock()
	switch mode {
	case "error":
		http.Error(w, `{"code":"InternalError","message":"provider down"}`, http.StatusInternalServerError)
		return
	case "hang":
		select {
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
		return
	}
	json.NewEncoder(w).Encode(map[string]string{
		"AccessKeyId":     f.id,
		"SecretAccessKey": f.key,
		"Token":           f.token,
		"Expiration":      time.Now().Add(lifetime).UTC().Format(time.RFC3339),
	})
}

// useContainerCreds points the AWS default chain of this test at a fake
// container endpoint, and away from the machine's own config, environment
// keys and the EC2 metadata service.
func useContainerCreds(t *testing.T, id, key, token string, lifetime time.Duration) *fakeContainerCreds {
	f := &fakeContainerCreds{mode: "ok", id: id, key: key, token: token, lifetime: lifetime}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_CONTAINER_CREDENTIALS_FULL_URI":     f.srv.URL + "/creds",
		"AWS_CONFIG_FILE":                        filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE":            filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED":              "true",
		"AWS_ACCESS_KEY_ID":                      "",
		"AWS_SECRET_ACCESS_KEY":                  "",
		"AWS_SESSION_TOKEN":                      "",
		"AWS_PROFILE":                            "",
		"AWS_ROLE_ARN":                           "",
		"AWS_WEB_IDENTITY_TOKEN_FILE":            "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
	} {
		t.Setenv(k, v)
	}
	return f
}

// TestS3URLDiesWithCredentials: with credentials that expire in 2 minutes
// and expires 15m, the URL is signed for what is left of the credentials'
// life, expires_at says so, and the URL works on the real server.
func TestS3URLDiesWithCredentials(t *testing.T) {
	s := testenv.StartS3(t)
	s.CreateBucket(t, "short")
	s.Put(t, "short", "f.txt", []byte("short-lived"), "text/plain")
	f := useContainerCreds(t, s.AccessKey, s.SecretKey, "", 2*time.Minute)
	h := newHandler(t, `presign {
		profile p s3 {
			bucket short
			region `+s.Region+`
			endpoint `+s.Endpoint+`
			path_style
		}
		rule /* {
			profile p
			respond json
			expires 15m
		}
	}`)
	a := serve(t, h, "GET", "/f.txt")
	if a.Code != http.StatusOK {
		t.Fatalf("status %d: %v", a.Code, a.Err)
	}
	var got struct {
		URL       string `json:"url"`
		ExpiresAt string `json:"expires_at"`
	}
	json.Unmarshal([]byte(a.Body), &got)
	exp, err := time.Parse(time.RFC3339, got.ExpiresAt)
	if err != nil {
		t.Fatalf("expires_at %q: %v", got.ExpiresAt, err)
	}
	if left := time.Until(exp); left > 2*time.Minute || left < 2*time.Minute-10*time.Second {
		t.Errorf("expires_at %s is %s away; want the credentials' expiry, about 2m", got.ExpiresAt, left)
	}
	u, _ := url.Parse(got.URL)
	secs, _ := strconv.Atoi(u.Query().Get("X-Amz-Expires"))
	if secs > 120 || secs < 110 {
		t.Errorf("X-Amz-Expires %d; want the credentials' remaining life, about 120", secs)
	}
	if code, _, body := fetch(t, "GET", got.URL, nil); code != http.StatusOK || string(body) != "short-lived" {
		t.Errorf("URL signed with container credentials: %d %q", code, body)
	}
	if f.calls != 1 {
		t.Errorf("the provider was asked %d times for one request, want 1", f.calls)
	}
}

// TestCredentialsFailThenRecover: a provider that errors gives 503 with
// Retry-After at once; one that hangs gives 503 within credentials_timeout,
// not a hang; when it comes back, requests succeed again by themselves.
func TestCredentialsFailThenRecover(t *testing.T) {
	s := testenv.StartS3(t)
	s.CreateBucket(t, "flaky")
	s.Put(t, "flaky", "f.txt", []byte("back"), "text/plain")
	f := useContainerCreds(t, s.AccessKey, s.SecretKey, "", time.Hour)
	f.set("error")
	h := newHandler(t, `presign {
		profile p s3 {
			bucket flaky
			region `+s.Region+`
			endpoint `+s.Endpoint+`
			path_style
			credentials_timeout 1s
		}
		rule /* {
			profile p
		}
	}`)
	a := serve(t, h, "GET", "/f.txt")
	if a.Code != http.StatusServiceUnavailable || a.Header.Get("Retry-After") == "" || a.Header.Get("Location") != "" {
		t.Fatalf("provider erroring: %d, Retry-After %q, Location %q; want 503 with Retry-After and no Location",
			a.Code, a.Header.Get("Retry-After"), a.Header.Get("Location"))
	}

	time.Sleep(1100 * time.Millisecond) // past the cache's backoff
	f.set("hang")
	start := time.Now()
	a = serve(t, h, "GET", "/f.txt")
	if took := time.Since(start); a.Code != http.StatusServiceUnavailable || took > 3*time.Second {
		t.Fatalf("provider hanging: %d after %s; want 503 within about 1s", a.Code, took)
	}

	f.set("ok")
	deadline := time.Now().Add(15 * time.Second)
	for {
		a = serve(t, h, "GET", "/f.txt")
		if a.Code == http.StatusFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %d 15s after the provider came back", a.Code)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code, _, body := fetch(t, "GET", a.Header.Get("Location"), nil); code != http.StatusOK || string(body) != "back" {
		t.Errorf("after recovery: %d %q", code, body)
	}
}

// fakeSTS answers AssumeRole like AWS STS, or refuses it.
type fakeSTS struct {
	mu      sync.Mutex
	refuse  bool
	id, key string
	forms   []url.Values
	auths   []string
}

func (f *fakeSTS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.forms = append(f.forms, r.PostForm)
	f.auths = append(f.auths, r.Header.Get("Authorization"))
	w.Header().Set("Content-Type", "text/xml")
	if f.refuse {
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User is not authorized to perform: sts:AssumeRole</Message></Error><RequestId>r1</RequestId></ErrorResponse>`))
		return
	}
	w.Write([]byte(`<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials>` +
		`<AccessKeyId>` + f.id + `</AccessKeyId><SecretAccessKey>` + f.key + `</SecretAccessKey><SessionToken>FQoGZXIvYXdzEXAMPLETOKEN</SessionToken>` +
		`<Expiration>` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `</Expiration></Credentials>` +
		`<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/presign/caddy-presign</Arn><AssumedRoleId>AROA:caddy-presign</AssumedRoleId></AssumedRoleUser>` +
		`</AssumeRoleResult><ResponseMetadata><RequestId>r2</RequestId></ResponseMetadata></AssumeRoleResponse>`))
}

// TestS3AssumeRole: role_arn assumes the role with the base credentials,
// the role's session signs the URL (with its session token), and a refused
// AssumeRole gives 503 until the role is granted again.
func TestS3AssumeRole(t *testing.T) {
	s := testenv.StartS3(t)
	s.CreateBucket(t, "roles")
	s.Put(t, "roles", "r.txt", []byte("role"), "text/plain")
	sts := &fakeSTS{refuse: true, id: s.AccessKey, key: s.SecretKey}
	srv := httptest.NewServer(sts)
	defer srv.Close()
	useContainerCreds(t, "unused", "unused", "", time.Hour)
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "")
	t.Setenv("AWS_ENDPOINT_URL_STS", srv.URL)

	h := newHandler(t, `presign {
		profile p s3 {
			bucket roles
			region `+s.Region+`
			endpoint `+s.Endpoint+`
			path_style
			access_key_id BASEKEYID
			secret_access_key BASESECRETKEY
			role_arn arn:aws:iam::123456789012:role/presign ext-42
			credentials_timeout 2s
		}
		rule /* {
			profile p
		}
	}`)
	if a := serve(t, h, "GET", "/r.txt"); a.Code != http.StatusServiceUnavailable || a.Header.Get("Retry-After") == "" {
		t.Fatalf("AssumeRole refused: %d; want 503 with Retry-After", a.Code)
	}
	sts.mu.Lock()
	sts.refuse = false
	sts.mu.Unlock()
	time.Sleep(1100 * time.Millisecond) // past the cache's backoff
	a := serve(t, h, "GET", "/r.txt")
	if a.Code != http.StatusFound {
		t.Fatalf("after the role was granted: %d %v", a.Code, a.Err)
	}
	loc := a.Header.Get("Location")
	if u, _ := url.Parse(loc); u.Query().Get("X-Amz-Security-Token") != "FQoGZXIvYXdzEXAMPLETOKEN" {
		t.Errorf("the URL does not carry the role session's token: %s", loc)
	}
	if u, _ := url.Parse(loc); !strings.HasPrefix(u.Query().Get("X-Amz-Credential"), s.AccessKey+"/") {
		t.Errorf("the URL is not signed with the role session's key: %s", loc)
	}
	// versitygw's single-account mode knows no STS session tokens and
	// refuses every URL that carries one as InvalidToken, whatever its
	// signature; that the signature is right with a token is proven by
	// signers' differential test against the SDK.
	if code, _, body := fetch(t, "GET", loc, nil); code != http.StatusBadRequest || !strings.Contains(string(body), "InvalidToken") {
		t.Errorf("versitygw on a URL with a session token: %d %q; expected its InvalidToken refusal", code, body)
	}
	sts.mu.Lock()
	defer sts.mu.Unlock()
	last := sts.forms[len(sts.forms)-1]
	for k, want := range map[string]string{"Action": "AssumeRole", "RoleArn": "arn:aws:iam::123456789012:role/presign",
		"ExternalId": "ext-42", "DurationSeconds": "3600", "RoleSessionName": "caddy-presign"} {
		if last.Get(k) != want {
			t.Errorf("AssumeRole %s = %q, want %q", k, last.Get(k), want)
		}
	}
	if auth := sts.auths[len(sts.auths)-1]; !strings.Contains(auth, "Credential=BASEKEYID/") {
		t.Errorf("AssumeRole was not signed with the base credentials: %q", auth)
	}
}
