package systest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-presign/presign/systest/harness"
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

// asked is how many times the endpoint was asked for credentials.
func (f *fakeContainerCreds) asked() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
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

// fileBucket starts versitygw with bucket holding f.txt, whose bytes are
// body.
func fileBucket(t *testing.T, bucket, body string) *harness.S3 {
	t.Helper()
	s := harness.StartS3(t)
	s.CreateBucket(t, bucket)
	s.Put(t, bucket, "f.txt", []byte(body), "text/plain")
	return s
}

// anyPath is a rule that presigns every path with profile p.
const anyPath = `rule /* {
			profile p
		}`

// TestS3URLDiesWithCredentials: with credentials that expire in 2 minutes
// and expires 15m, the URL is signed for what is left of the credentials'
// life, expires_at says so, and the URL works on the real server.
func TestS3URLDiesWithCredentials(t *testing.T) {
	s := fileBucket(t, "short", "short-lived")
	f := useContainerCreds(t, s.AccessKey, s.SecretKey, "", 2*time.Minute)
	base := loadSite(t, presignBlock(s.KeylessProfile("p", "short"), `rule /* {
			profile p
			respond json
			expires 15m
		}`))
	code, _, body := harness.Fetch(t, "GET", base+"/f.txt", nil)
	if code != http.StatusOK {
		t.Fatalf("status %d %q, want 200", code, body)
	}
	var got struct {
		URL       string `json:"url"`
		ExpiresAt string `json:"expires_at"`
	}
	json.Unmarshal(body, &got)
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
	if code, _, body := harness.Fetch(t, "GET", got.URL, nil); code != http.StatusOK || string(body) != "short-lived" {
		t.Errorf("URL signed with container credentials: %d %q", code, body)
	}
	if code, _, _ := harness.Fetch(t, "GET", harness.Tamper(t, got.URL), nil); code != http.StatusForbidden {
		t.Errorf("tampered URL: status %d, want 403", code)
	}
	if n := f.asked(); n != 1 {
		t.Errorf("the provider was asked %d times for one request, want 1", n)
	}
}

// TestCredentialsFailThenRecover: a provider that errors gives 503 with
// Retry-After at once; one that hangs gives 503 within credentials_timeout,
// not a hang; when it comes back, requests succeed again by themselves.
func TestCredentialsFailThenRecover(t *testing.T) {
	s := fileBucket(t, "flaky", "back")
	f := useContainerCreds(t, s.AccessKey, s.SecretKey, "", time.Hour)
	f.set("error")
	base := loadSite(t, presignBlock(s.KeylessProfile("p", "flaky", "credentials_timeout 1s"), anyPath))
	code, hdr, _ := harness.Fetch(t, "GET", base+"/f.txt", nil)
	if code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" || hdr.Get("Location") != "" {
		t.Fatalf("provider erroring: %d, Retry-After %q, Location %q; want 503 with Retry-After and no Location",
			code, hdr.Get("Retry-After"), hdr.Get("Location"))
	}

	time.Sleep(1100 * time.Millisecond) // past the cache's backoff
	f.set("hang")
	start := time.Now()
	code, _, _ = harness.Fetch(t, "GET", base+"/f.txt", nil)
	if took := time.Since(start); code != http.StatusServiceUnavailable || took > 3*time.Second {
		t.Fatalf("provider hanging: %d after %s; want 503 within about 1s", code, took)
	}

	f.set("ok")
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, hdr, _ = harness.Fetch(t, "GET", base+"/f.txt", nil)
		if code == http.StatusFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %d 15s after the provider came back", code)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code, _, body := harness.Fetch(t, "GET", hdr.Get("Location"), nil); code != http.StatusOK || string(body) != "back" {
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
	s := fileBucket(t, "roles", "role")
	sts := &fakeSTS{refuse: true, id: s.AccessKey, key: s.SecretKey}
	srv := httptest.NewServer(sts)
	defer srv.Close()
	useContainerCreds(t, "unused", "unused", "", time.Hour)
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "")
	t.Setenv("AWS_ENDPOINT_URL_STS", srv.URL)

	base := loadSite(t, presignBlock(s.KeylessProfile("p", "roles", "access_key_id BASEKEYID", "secret_access_key BASESECRETKEY",
		"role_arn arn:aws:iam::123456789012:role/presign ext-42", "credentials_timeout 2s"), anyPath))
	if code, hdr, _ := harness.Fetch(t, "GET", base+"/f.txt", nil); code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" {
		t.Fatalf("AssumeRole refused: %d; want 503 with Retry-After", code)
	}
	sts.mu.Lock()
	sts.refuse = false
	sts.mu.Unlock()
	time.Sleep(1100 * time.Millisecond) // past the cache's backoff
	loc := location(t, http.StatusFound, "GET", base+"/f.txt")
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
	if code, _, body := harness.Fetch(t, "GET", loc, nil); code != http.StatusBadRequest || !strings.Contains(string(body), "InvalidToken") {
		t.Errorf("versitygw on a URL with a session token: %d %q; expected its InvalidToken refusal", code, body)
	}
	sts.mu.Lock()
	defer sts.mu.Unlock()
	last := sts.forms[len(sts.forms)-1]
	for k, want := range map[string]string{
		"Action": "AssumeRole", "RoleArn": "arn:aws:iam::123456789012:role/presign",
		"ExternalId": "ext-42", "DurationSeconds": "3600", "RoleSessionName": "caddy-presign",
	} {
		if last.Get(k) != want {
			t.Errorf("AssumeRole %s = %q, want %q", k, last.Get(k), want)
		}
	}
	if auth := sts.auths[len(sts.auths)-1]; !strings.Contains(auth, "Credential=BASEKEYID/") {
		t.Errorf("AssumeRole was not signed with the base credentials: %q", auth)
	}
}

// TestCredentialRotationUnderLoad: with credentials that live 6 s (from the
// fake container endpoint), 8 workers ask Caddy (in this process) for URLs
// over loopback HTTP for 15 s while the cache rotates the credentials about
// every 3 s (it refreshes at min(5m, lifetime/2) ahead, in the background). No request fails: every
// answer is a 302, a sample of the URLs is fetched 200 from versitygw, and
// the URLs' expiries follow the rotating credentials, none cut to less than
// half their life (less a second of rounding). The provider is asked
// about once per rotation, not once per request or per worker, and no
// goroutine is left behind.
func TestCredentialRotationUnderLoad(t *testing.T) {
	const (
		lifetime = 6 * time.Second
		duration = 15 * time.Second
		workers  = 8
		sample   = 25 // fetch every 25th URL of each worker
	)
	s := fileBucket(t, "rotate", "rotating")
	f := useContainerCreds(t, s.AccessKey, s.SecretKey, "", lifetime)
	base := loadSite(t, presignBlock(s.KeylessProfile("p", "rotate", "credentials_timeout 2s"), anyPath))
	client := harness.LoadClient(workers)
	defer client.CloseIdleConnections()

	// warm up: the first credentials, the client's and the SDK's connections
	if code, _, _, err := harness.Do(context.Background(), client, "GET", base+"/f.txt"); err != nil || code != http.StatusFound {
		t.Fatalf("first request: %d %v", code, err)
	}
	time.Sleep(200 * time.Millisecond)
	g0 := runtime.NumGoroutine()

	var (
		fetched  int
		mu       sync.Mutex
		expiries = map[int64]bool{} // X-Amz-Date + X-Amz-Expires: the credentials' expiry
		shortest = int(lifetime / time.Second)
	)
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	total, failures := harness.Load(ctx, workers, func(_, i int) error {
		code, hdr, _, err := harness.Do(context.Background(), client, "GET", base+"/f.txt")
		if err != nil || code != http.StatusFound {
			return fmt.Errorf("request: %d %v", code, err)
		}
		loc := hdr.Get("Location")
		u, err := url.Parse(loc)
		if err != nil {
			return fmt.Errorf("Location %q: %v", loc, err)
		}
		date, err1 := time.Parse("20060102T150405Z", u.Query().Get("X-Amz-Date"))
		secs, err2 := strconv.Atoi(u.Query().Get("X-Amz-Expires"))
		if err1 != nil || err2 != nil || secs < 1 || secs > int(lifetime/time.Second) {
			return fmt.Errorf("Location %q: X-Amz-Expires should be cut to the credentials' life", loc)
		}
		mu.Lock()
		expiries[date.Unix()+int64(secs)] = true
		shortest = min(shortest, secs)
		if i%sample == 0 {
			fetched++
		}
		mu.Unlock()
		if i%sample == 0 {
			code, _, body, err := harness.Do(context.Background(), client, "GET", loc)
			if err != nil || code != http.StatusOK || string(body) != "rotating" {
				return fmt.Errorf("fetching a URL signed %s, expiring in %ds: %d %q %v", u.Query().Get("X-Amz-Date"), secs, code, body, err)
			}
		}
		return nil
	})()
	client.CloseIdleConnections()

	calls := f.asked()
	t.Logf("%d requests (%.0f/s), %d URLs fetched, %d provider calls, %d distinct credential expiries, shortest URL life %ds",
		total, float64(total)/duration.Seconds(), fetched, calls, len(expiries), shortest)
	for _, f := range failures {
		t.Error(f)
	}
	if total < 100 || fetched < 4 {
		t.Errorf("only %d requests and %d fetches in %s", total, fetched, duration)
	}
	// one call at first, then one per rotation: about every lifetime/2
	rotations := int(duration / (lifetime / 2))
	if calls < rotations-1 || calls > rotations+3 {
		t.Errorf("the provider was asked %d times in %s with %s credentials; want about %d (one per rotation)", calls, duration, lifetime, rotations+1)
	}
	// renewed at half their life, the credentials leave every URL at least
	// that long, less the second the signing time is rounded down by
	if want := int(lifetime/2/time.Second) - 1; shortest < want {
		t.Errorf("a URL lived only %ds: the credentials were not renewed ahead of their expiry (want at least %ds)", shortest, want)
	}
	if len(expiries) < rotations-1 {
		t.Errorf("URLs carried %d distinct credential expiries; the credentials did not rotate", len(expiries))
	}

	// no goroutine left behind (fetches, timers, connections)
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > g0+2 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > g0+2 {
		buf := make([]byte, 1<<16)
		t.Errorf("goroutines: %d before the load, %d after it settled\n%s", g0, g, buf[:runtime.Stack(buf, true)])
	} else {
		t.Logf("goroutines: %d before the load, %d after", g0, g)
	}
}
