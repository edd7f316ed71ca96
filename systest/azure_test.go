package systest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/azure"
	"github.com/caddy-presign/presign/systest/harness"
)

// azureProfile is a presign profile block for container media of a, with
// the well-known account key.
func azureProfile(a *harness.Azurite) string {
	return `profile az azure {
			account ` + harness.AzuriteAccount + `
			container media
			account_key ` + harness.AzuriteKey + `
			endpoint ` + a.Endpoint + `
		}`
}

// azureSite runs Caddy in the test binary with a presign block for
// container media of a: a download rule (attachment), an upload rule and an
// upload rule answering JSON. It returns the site's base URL.
func azureSite(t *testing.T, a *harness.Azurite) string {
	t.Helper()
	return loadSite(t, presignBlock(azureProfile(a), `rule /dl/* {
			profile az
			strip_prefix /dl
			content_disposition attachment
		}`, `rule /up/* {
			profile az
			strip_prefix /up
			methods PUT
		}`, `rule /upj/* {
			profile az
			strip_prefix /upj
			methods PUT
			respond json
		}`))
}

// fetchAzure sends a request to a SAS URL with a's client, with
// x-ms-blob-type for a PUT, as docs/providers.md tells clients to.
func fetchAzure(t *testing.T, a *harness.Azurite, method, u, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodPut {
		req.Header.Set("x-ms-blob-type", "BlockBlob")
	}
	resp, err := a.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestAzureDownloadThroughAzurite: the SAS of a GET returns the private blob
// with the Content-Disposition asked for, for keys with spaces, unicode,
// '+', '%', '#' and '?'; a tampered signature, the same SAS on another blob
// and a download SAS used to write are refused (403).
func TestAzureDownloadThroughAzurite(t *testing.T) {
	a := harness.StartAzurite(t, harness.AzuriteOptions{})
	a.CreateContainer(t, "media")
	a.Put(t, "media", "other.txt", []byte("the other blob"), "text/plain")
	base := azureSite(t, a)
	origin := a.Endpoint + "/media/"
	if code, _, _ := fetchAzure(t, a, "GET", origin+"other.txt", ""); code == http.StatusOK {
		t.Fatalf("the container is public: the test would prove nothing")
	}
	for key, disposition := range map[string]string{
		"hello.txt":     `attachment; filename="hello.txt"`,
		"dir/a b.txt":   `attachment; filename="a b.txt"`,
		"ünï/日本語.txt":   `attachment; filename="___.txt"; filename*=UTF-8''%E6%97%A5%E6%9C%AC%E8%AA%9E.txt`,
		"c+d=e&f;g.txt": `attachment; filename="c+d=e&f;g.txt"`,
		"100%.txt":      `attachment; filename="100%.txt"`,
		"hash#tag?.txt": `attachment; filename="hash#tag?.txt"`,
	} {
		t.Run(key, func(t *testing.T) {
			body := "bytes of " + key
			a.Put(t, "media", key, []byte(body), "application/octet-stream")
			loc := location(t, http.StatusFound, "GET", base+pathFor("/dl/", key))
			if !strings.HasPrefix(loc, origin) {
				t.Fatalf("Location %s, want %s...", loc, origin)
			}
			for _, p := range []string{"sr=b", "sp=r", "se=", "sv="} {
				if !strings.Contains(loc, p) {
					t.Errorf("Location %s lacks %s", loc, p)
				}
			}
			if strings.Contains(loc, "spr=") {
				t.Errorf("spr on an http endpoint: %s", loc)
			}
			code, hdr, got := fetchAzure(t, a, "GET", loc, "")
			if code != http.StatusOK || got != body {
				t.Fatalf("following the redirect: %d %q, want 200 %q", code, got, body)
			}
			if hdr.Get("Content-Disposition") != disposition {
				t.Errorf("Content-Disposition %q, want %q", hdr.Get("Content-Disposition"), disposition)
			}
			if code, _, _ := fetchAzure(t, a, "GET", harness.TamperParam(t, loc, "sig"), ""); code != http.StatusForbidden {
				t.Errorf("tampered signature: %d, want 403", code)
			}
			path, query, _ := strings.Cut(loc, "?")
			if code, _, _ := fetchAzure(t, a, "GET", origin+"other.txt?"+query, ""); code != http.StatusForbidden {
				t.Errorf("the same SAS on another blob: %d, want 403", code)
			}
			if code, _, _ := fetchAzure(t, a, "PUT", path+"?"+query, "overwritten"); code != http.StatusForbidden {
				t.Errorf("a download SAS used to write: %d, want 403", code)
			}
			head := location(t, http.StatusFound, "HEAD", base+pathFor("/dl/", key))
			if code, _, _ := fetchAzure(t, a, "HEAD", head, ""); code != http.StatusOK {
				t.Errorf("HEAD through the redirect: %d, want 200", code)
			}
		})
	}
}

// TestAzureExpiredSAS: a SAS whose lifetime ended is refused (403), while
// the same request signed now is served.
func TestAzureExpiredSAS(t *testing.T) {
	a := harness.StartAzurite(t, harness.AzuriteOptions{})
	a.CreateContainer(t, "media")
	a.Put(t, "media", "hello.txt", []byte("hello"), "text/plain")
	az := &azure.Azure{Account: harness.AzuriteAccount, Container: "media", AccountKey: harness.AzuriteKey, Endpoint: a.Endpoint}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := az.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	for _, c := range []struct {
		signed time.Time
		want   int
	}{{now, http.StatusOK}, {now.Add(-time.Hour), http.StatusForbidden}} {
		s, err := az.Sign(context.Background(), signers.Request{
			Method: "GET", Key: "hello.txt", SignTime: c.signed,
			Expires: 15 * time.Minute, Options: &signers.Options{},
		})
		if err != nil {
			t.Fatal(err)
		}
		if code, _, _ := fetchAzure(t, a, "GET", s.URL, ""); code != c.want {
			t.Errorf("SAS signed at %s for 15m: %d, want %d", c.signed.Format(time.RFC3339), code, c.want)
		}
	}
}

// TestAzureUploadThroughAzurite: the SAS of a PUT (307) stores the blob when
// the client sends x-ms-blob-type, and the same SAS cannot write another
// name; respond json names the header the client must send.
func TestAzureUploadThroughAzurite(t *testing.T) {
	a := harness.StartAzurite(t, harness.AzuriteOptions{})
	a.CreateContainer(t, "media")
	base := azureSite(t, a)
	origin := a.Endpoint + "/media/"

	loc := location(t, http.StatusTemporaryRedirect, "PUT", base+pathFor("/up/", "new dir/upload ü.bin"))
	if !strings.HasPrefix(loc, origin) || !strings.Contains(loc, "sp=cw") {
		t.Fatalf("PUT: Location %q, want a SAS with sp=cw under %s", loc, origin)
	}
	_, query, _ := strings.Cut(loc, "?")
	if code, _, _ := fetchAzure(t, a, "PUT", origin+"elsewhere.bin?"+query, "intruder"); code != http.StatusForbidden {
		t.Errorf("the upload SAS on another name: %d, want 403", code)
	}
	if code, _ := a.Get(t, "media", "elsewhere.bin"); code != http.StatusNotFound {
		t.Errorf("another name was written: %d", code)
	}
	if code, _, _ := fetchAzure(t, a, "PUT", harness.TamperParam(t, loc, "sig"), "tampered"); code != http.StatusForbidden {
		t.Errorf("tampered upload SAS: %d, want 403", code)
	}
	if code, _, body := fetchAzure(t, a, "PUT", loc, "uploaded bytes"); code != http.StatusCreated {
		t.Fatalf("PUT through the redirect: %d %s, want 201", code, body)
	}
	if code, got := a.Get(t, "media", "new dir/upload ü.bin"); code != http.StatusOK || string(got) != "uploaded bytes" {
		t.Errorf("stored blob: %d %q", code, got)
	}

	code, _, body := harness.Fetch(t, "PUT", base+"/upj/j.txt", nil)
	var j struct {
		Method    string            `json:"method"`
		URL       string            `json:"url"`
		Headers   map[string]string `json:"headers"`
		ExpiresAt string            `json:"expires_at"`
	}
	if err := json.Unmarshal(body, &j); err != nil || code != http.StatusOK {
		t.Fatalf("respond json: %d %s (%v)", code, body, err)
	}
	if j.Method != "PUT" || j.Headers["x-ms-blob-type"] != "BlockBlob" || len(j.Headers) != 1 || j.ExpiresAt == "" {
		t.Errorf("JSON answer %+v, want method PUT and headers {x-ms-blob-type: BlockBlob}", j)
	}
	if code, _, _ := fetchAzure(t, a, "PUT", j.URL, "json upload"); code != http.StatusCreated {
		t.Errorf("PUT to the JSON answer's URL: %d, want 201", code)
	}
	if code, got := a.Get(t, "media", "j.txt"); code != http.StatusOK || string(got) != "json upload" {
		t.Errorf("blob stored through the JSON answer: %d %q", code, got)
	}
}

// startManagedIdentity starts a fake App Service managed identity endpoint:
// its tokens are unsigned JWTs for Azure Storage with the given object and
// tenant IDs, of the shape Azurite's --oauth basic accepts. It returns the
// environment that points azidentity's managed identity credential at it
// (and no other credential), and the count of tokens it issued.
func startManagedIdentity(t *testing.T, oid, tid string) (env []string, issued *atomic.Int64) {
	t.Helper()
	const header = "test-identity-header"
	issued = new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-IDENTITY-HEADER") != header || !strings.HasPrefix(r.URL.Query().Get("resource"), "https://storage.azure.com") {
			http.Error(w, "bad identity request", http.StatusBadRequest)
			return
		}
		now := time.Now().Unix()
		seg := func(v any) string {
			b, _ := json.Marshal(v)
			return base64.RawURLEncoding.EncodeToString(b)
		}
		tok := seg(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." + seg(map[string]any{
			"aud": "https://storage.azure.com", "iss": "https://sts.windows.net/" + tid + "/",
			"iat": now - 60, "nbf": now - 60, "exp": now + 3600, "oid": oid, "tid": tid,
		}) + ".c2lnbmF0dXJl"
		issued.Add(1)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{
			"access_token": tok, "expires_on": strconv.FormatInt(now+3600, 10),
			"resource": "https://storage.azure.com", "token_type": "Bearer",
		})
	}))
	t.Cleanup(srv.Close)
	env = []string{"IDENTITY_ENDPOINT=" + srv.URL + "/msi/token", "IDENTITY_HEADER=" + header}
	for _, v := range []string{
		"AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
		"AZURE_USERNAME", "AZURE_FEDERATED_TOKEN_FILE", "MSI_ENDPOINT", "AZURE_TOKEN_CREDENTIALS",
	} {
		env = append(env, v) // unset
	}
	return env, issued
}

// TestAzureUserDelegationThroughCaddy proves a profile without account_key,
// in a Caddy process as a user runs it: the Azure default credential chain
// gets a token from a managed identity endpoint (a local fake of App
// Service's), the profile gets a user delegation key from Azurite (--oauth
// basic, https, its certificate trusted through SSL_CERT_FILE, as a user
// fronting a private endpoint would), and Azurite serves the blob for the
// user delegation SAS while it refuses a tampered one and the same SAS on
// another blob; browse and check_exists sign their own calls with the same
// key, and Azurite answers them. A SAS asked to outlive the key is cut to
// the key's expiry, and says so; the key is fetched once. An identity the
// storage account refuses makes the handler answer 503 with Retry-After
// (browse and check_exists too), and the log names the service's error
// code and holds no token.
func TestAzureUserDelegationThroughCaddy(t *testing.T) {
	const oid = "11111111-2222-3333-4444-555555555555"
	env, issued := startManagedIdentity(t, oid, "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")
	a := harness.StartAzurite(t, harness.AzuriteOptions{OAuth: true})
	a.CreateContainer(t, "media")
	a.Put(t, "media", "dir/private ü.txt", []byte("delegated bytes"), "text/plain")
	a.Put(t, "media", "other.txt", []byte("other"), "text/plain")
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-ms-error-code", "AuthorizationPermissionMismatch")
		w.WriteHeader(http.StatusForbidden)
	}))
	defer refuse.Close()

	port := harness.Port(t)
	c := harness.StartCaddyEnv(t, append(env, "SSL_CERT_FILE="+a.CertFile), site(port, presignBlock(`profile az azure {
			account `+harness.AzuriteAccount+`
			container media
			endpoint `+a.Endpoint+`
		}`, `profile denied azure {
			account `+harness.AzuriteAccount+`
			container media
			endpoint `+refuse.URL+`/`+harness.AzuriteAccount+`
		}`, `rule /dl/* {
			profile az
			strip_prefix /dl
			content_type text/x-test
		}`, `rule /week/* {
			profile az
			strip_prefix /week
			expires 7d
			respond json
		}`, `rule /denied/* {
			profile denied
			strip_prefix /denied
		}`, `rule /ls/* {
			profile az
			strip_prefix /ls
			browse
			check_exists
		}`, `rule /denied-ls/* {
			profile denied
			strip_prefix /denied-ls
			browse
			check_exists
		}`)), []int{port})
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	get := func(u string) (int, string) {
		code, hdr, body := fetchAzure(t, a, "GET", u, "")
		if code == http.StatusOK && hdr.Get("Content-Type") != "text/x-test" {
			t.Errorf("Content-Type %q, want the rule's text/x-test", hdr.Get("Content-Type"))
		}
		return code, body
	}

	loc := location(t, http.StatusFound, "GET", base+pathFor("/dl/", "dir/private ü.txt"))
	for _, p := range []string{"skoid=" + oid, "sktid=", "skt=", "ske=", "sks=b", "skv=", "spr=https", "sr=b", "sp=r"} {
		if !strings.Contains(loc, p) {
			t.Errorf("Location lacks %s: %s", p, loc)
		}
	}
	if code, body := get(loc); code != http.StatusOK || body != "delegated bytes" {
		t.Fatalf("user delegation SAS: %d %q, want 200; Azurite's log:\n%s", code, body, a.LogTail(3000))
	}
	if code, _ := get(harness.TamperParam(t, loc, "sig")); code != http.StatusForbidden {
		t.Errorf("tampered user delegation SAS: %d, want 403", code)
	}
	_, query, _ := strings.Cut(loc, "?")
	if code, _ := get(a.Endpoint + "/media/other.txt?" + query); code != http.StatusForbidden {
		t.Errorf("the same SAS on another blob: %d, want 403", code)
	}

	// browse and check_exists sign their own calls with the same key
	items, _ := listJSON(t, base+"/ls/dir/")
	if len(items) != 1 || items[0].Name != "private ü.txt" || items[0].Size != int64(len("delegated bytes")) {
		t.Errorf("listing with the user delegation key: %+v; Azurite's log:\n%s", items, a.LogTail(3000))
	}
	if code, _, _ := harness.Fetch(t, "GET", base+"/ls/missing.txt", nil); code != http.StatusNotFound {
		t.Errorf("check_exists of a missing blob with the user delegation key: %d, want 404", code)
	}
	if code, _, body := fetchAzure(t, a, "GET", location(t, http.StatusFound, "GET", base+"/ls/other.txt"), ""); code != http.StatusOK || body != "other" {
		t.Errorf("check_exists of a present blob, then its SAS: %d %q, want 200", code, body)
	}

	// a SAS never outlives its key
	code, _, body := harness.Fetch(t, "GET", base+pathFor("/week/", "dir/private ü.txt"), nil)
	var j struct {
		URL       string `json:"url"`
		ExpiresAt string `json:"expires_at"`
	}
	if err := json.Unmarshal(body, &j); err != nil || code != http.StatusOK {
		t.Fatalf("respond json: %d %s (%v)", code, body, err)
	}
	u, err := url.Parse(j.URL)
	if err != nil {
		t.Fatal(err)
	}
	ske, se := u.Query().Get("ske"), u.Query().Get("se")
	week := time.Now().Add(7 * 24 * time.Hour)
	if at, err := time.Parse(time.RFC3339, j.ExpiresAt); err != nil || !at.Before(week) || se != ske || j.ExpiresAt != se {
		t.Errorf("7-day SAS: expires_at %s, se %s, key expiry %s: want all three the key's expiry, before %s", j.ExpiresAt, se, ske, week.Format(time.RFC3339))
	}
	if code, _, body := fetchAzure(t, a, "GET", j.URL, ""); code != http.StatusOK || body != "delegated bytes" {
		t.Errorf("SAS cut to the key's expiry: %d %q, want 200", code, body)
	}
	if n := issued.Load(); n != 1 {
		t.Errorf("%d tokens fetched for one key, want 1 (the key is cached)", n)
	}

	// an identity without the delegator role: 503, and a log that helps;
	// browse and check_exists too, never a 404
	for _, p := range []string{"/denied/x.txt", "/denied-ls/", "/denied-ls/x.txt"} {
		code, hdr, _ := harness.Fetch(t, "GET", base+p, nil)
		if code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" {
			t.Errorf("refused identity, GET %s: %d, Retry-After %q; want 503 with Retry-After", p, code, hdr.Get("Retry-After"))
		}
	}
	log := c.LogText()
	if !strings.Contains(log, "AuthorizationPermissionMismatch") {
		t.Errorf("the log does not name the service's error code:\n%s", harness.Clipped(log, 4000))
	}
	for _, secret := range []string{"eyJ", "sig="} {
		if strings.Contains(log, secret) {
			t.Errorf("the log holds %q (a token or a signature):\n%s", secret, harness.Clipped(log, 4000))
		}
	}
	if !strings.Contains(log, `"profile":"denied"`) {
		t.Errorf("the log does not name the profile")
	}
}
