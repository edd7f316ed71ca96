package presign

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/caddy-presign/presign/signers/signerstest"
)

// The handler's answers: what it asks the kind to sign (key, method,
// signing time, lifetime, what Bind read of the request), its status codes,
// headers and JSON; through the recording kind, and through a real kind
// for what only that kind's options reach. That the kinds sign these
// requests correctly is tested in their packages (signers/<kind>), with
// their independent verifiers.

// TestStable: two requests inside a stable window get the same URL and a
// Cache-Control max-age of what is left of the window, signed at the
// window's start; the next window gives a new URL. (That such URLs work on
// a real server: systest's TestS3StableURLWorks; that the window's start
// is the URL's X-Amz-Date: signers/s3's TestS3SignsTheRequest.)
func TestStable(t *testing.T) {
	h := newHandler(t, `presign {
		`+recordingProfile("g")+`
		rule /img/* {
			profile g
			strip_prefix /img
			expires 10m
			stable 1m
		}
	}`)
	start := time.Unix(1767225600, 0) // a window's start: 2026-01-01T00:00:00Z
	at(h, start.Add(10*time.Second))
	a1 := serve(t, h, "GET", "/img/cat.jpg")
	at(h, start.Add(45*time.Second))
	a2 := serve(t, h, "GET", "/img/cat.jpg")
	at(h, start.Add(61*time.Second))
	a3 := serve(t, h, "GET", "/img/cat.jpg")
	asked := recorded(t, h, "g")

	u1, u2, u3 := a1.Header.Get("Location"), a2.Header.Get("Location"), a3.Header.Get("Location")
	if u1 == "" || u1 != u2 {
		t.Errorf("two requests in one window gave different URLs:\n%s\n%s", u1, u2)
	}
	if u3 == "" || u3 == u1 {
		t.Errorf("the next window gave the same URL")
	}
	if cc := a1.Header.Get("Cache-Control"); cc != "private, max-age=50" {
		t.Errorf("Cache-Control at 10s into the window: %q, want private, max-age=50", cc)
	}
	if cc := a2.Header.Get("Cache-Control"); cc != "private, max-age=15" {
		t.Errorf("Cache-Control at 45s into the window: %q, want private, max-age=15", cc)
	}
	if len(asked) < 2 {
		t.Fatalf("%d requests signed, want one per window at least", len(asked))
	}
	for _, c := range []struct {
		got, want time.Time
	}{{asked[0].SignTime, start}, {asked[len(asked)-1].SignTime, start.Add(time.Minute)}} {
		if r := asked[0]; !c.got.Equal(c.want) || r.Key != "cat.jpg" || r.Expires != 10*time.Minute {
			t.Errorf("signed %q for %s at %s, want cat.jpg for 10m at the window's start %s", r.Key, r.Expires, c.got, c.want)
		}
	}
	if want := recordingURL("cat.jpg", "GET", start.Add(10*time.Minute)); u1 != want {
		t.Errorf("Location %s, want the kind's URL %s", u1, want)
	}
}

// TestMethodsAndFallThrough: a method the rule does not allow gets 405 with
// Allow; a path no rule matches goes to the next handler untouched; an
// allowed GET is a 302 and a PUT a 307 to the URL the profile signed for
// that method and key.
func TestMethodsAndFallThrough(t *testing.T) {
	h := newHandler(t, `presign {
		`+recordingProfile("p")+`
		rule /dl/* {
			profile p
		}
		rule /up/* {
			profile p
			methods PUT
		}
	}`)
	for _, c := range []struct{ method, target, allow string }{
		{"PUT", "/dl/x", "GET, HEAD"},
		{"DELETE", "/dl/x", "GET, HEAD"},
		{"OPTIONS", "/dl/x", "GET, HEAD"},
		{"GET", "/up/x", "PUT"},
	} {
		a := serve(t, h, c.method, c.target)
		if a.Code != http.StatusMethodNotAllowed || a.Header.Get("Allow") != c.allow {
			t.Errorf("%s %s: %d Allow %q, want 405 Allow %q", c.method, c.target, a.Code, a.Header.Get("Allow"), c.allow)
		}
	}
	for _, target := range []string{"/", "/other/x", "/dlx", "/d/l/x"} {
		if a := serve(t, h, "GET", target); !a.Next || a.Header.Get("Cache-Control") != "" {
			t.Errorf("GET %s: went to next %v, headers %v; want it passed on untouched", target, a.Next, a.Header)
		}
	}
	if n := len(recorded(t, h, "p")); n != 0 {
		t.Errorf("%d requests signed for refused methods and paths no rule matches", n)
	}
	clock := time.Unix(1767225600, 0)
	at(h, clock)
	a := serve(t, h, "GET", "/dl/x")
	if want := recordingURL("dl/x", "GET", clock.Add(15*time.Minute)); a.Code != http.StatusFound || a.Header.Get("Location") != want {
		t.Errorf("GET /dl/x: %d %q, want 302 to %s", a.Code, a.Header.Get("Location"), want)
	}
	a = serve(t, h, "PUT", "/up/x")
	asked := recorded(t, h, "p")
	if r := asked[len(asked)-1]; a.Code != http.StatusTemporaryRedirect || r.Method != "PUT" || r.Key != "up/x" ||
		a.Header.Get("Location") != recordingURL("up/x", "PUT", clock.Add(15*time.Minute)) {
		t.Errorf("PUT /up/x: %d %q (signed %s %q), want 307 to the signed URL of a PUT of up/x", a.Code, a.Header.Get("Location"), r.Method, r.Key)
	}
}

// TestRedirect: a GET is answered 302 with Cache-Control: no-store and
// the profile's URL as Location, signed for the key (the request path,
// percent-decoded) at the request's time for the profile's lifetime; HEAD
// too; a method the rule lacks is 405; a profile's origin with a path
// goes before every key. (How CloudFront signs these, its domain's path
// prefix and the escaping of such keys: signers/cloudfront's
// TestCloudFrontCannedAndWildcardGolden and TestCloudFrontHandlerRequests.)
func TestRedirect(t *testing.T) {
	h := newHandler(t, `presign {
		`+recordingProfile("p", "origin https://cdn.example.com/media", "expires 2h")+`
		rule /dl/* {
			profile p
			strip_prefix /dl
		}
	}`)
	clock := time.Unix(1767225600, 0)
	at(h, clock)
	a := serve(t, h, "GET", "/dl/images/cat.jpg")
	if a.Code != http.StatusFound {
		t.Fatalf("status %d (%v), want 302", a.Code, a.Err)
	}
	if cc := a.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	want := signerstest.RecordingURL("https://cdn.example.com/media", "GET", "images/cat.jpg", "", clock.Add(2*time.Hour))
	asked := recorded(t, h, "p")
	if r := asked[len(asked)-1]; r.Method != "GET" || r.Key != "images/cat.jpg" || !r.SignTime.Equal(clock) || r.Expires != 2*time.Hour ||
		a.Header.Get("Location") != want {
		t.Errorf("Location %s; signed %s %q at %s for %s; want GET images/cat.jpg at %s for the profile's 2h: %s",
			a.Header.Get("Location"), r.Method, r.Key, r.SignTime, r.Expires, clock, want)
	}
	if len(a.Header.Values("Set-Cookie")) != 0 {
		t.Errorf("cookies on a signed-URL answer")
	}
	if a := serve(t, h, "HEAD", "/dl/images/cat.jpg"); a.Code != http.StatusFound ||
		a.Header.Get("Location") != signerstest.RecordingURL("https://cdn.example.com/media", "HEAD", "images/cat.jpg", "", clock.Add(2*time.Hour)) {
		t.Errorf("HEAD: %d %s", a.Code, a.Header.Get("Location"))
	}
	if a := serve(t, h, "PUT", "/dl/images/cat.jpg"); a.Code != http.StatusMethodNotAllowed || a.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("PUT: %d, Allow %q", a.Code, a.Header.Get("Allow"))
	}

	// keys with spaces and unicode are decoded from the path, and escaped
	// under the origin's path
	a = serve(t, h, "GET", pathFor("/dl/", "clips/ünï 1.mp4"))
	asked = recorded(t, h, "p")
	if r := asked[len(asked)-1]; r.Key != "clips/ünï 1.mp4" || r.Expires != 2*time.Hour ||
		!strings.HasPrefix(a.Header.Get("Location"), "https://cdn.example.com/media/clips/%C3%BCn%C3%AF%201.mp4?") {
		t.Errorf("Location %s, signed %q for %s; want the key under the origin's path, for the profile's 2h", a.Header.Get("Location"), r.Key, r.Expires)
	}
}

// TestCloudFrontBindClientIP: bind_client_ip signs for the client IP Caddy
// determined (here the remote address; X-Forwarded-For from an untrusted
// peer is ignored). (The policy it makes: signers/cloudfront.)
func TestCloudFrontBindClientIP(t *testing.T) {
	h := newHandler(t, cfRuleConfig(t, "/dl/*", "strip_prefix /dl", "bind_client_ip"))
	asked := recordSigns(h)
	at(h, cfClock)
	for remote, want := range map[string]string{
		"192.0.2.10:5555":          "192.0.2.10",
		"[2001:db8::5]:443":        "2001:db8::5",
		"[::ffff:198.51.100.7]:80": "198.51.100.7",
	} {
		a := serve(t, h, "GET", "/dl/reports/q1.pdf", func(r *http.Request) {
			r.RemoteAddr = remote
			r.Header.Set("X-Forwarded-For", "203.0.113.99")
		})
		if a.Code != http.StatusFound {
			t.Fatalf("%s: status %d (%v)", remote, a.Code, a.Err)
		}
		r := lastSigned(t, asked)
		if r.ClientIP.Unmap() != netip.MustParseAddr(want) || r.Key != "reports/q1.pdf" || !r.SignTime.Equal(cfClock) {
			t.Errorf("%s: signed %q for %s, want reports/q1.pdf for %s", remote, r.Key, r.ClientIP, want)
		}
		if p := a.Header.Get("Location"); !strings.Contains(p, "Policy=") || strings.Contains(p, "Expires=") {
			t.Errorf("%s: not a custom-policy URL: %s", remote, p)
		}
	}
}

// TestCloudFrontCookies: cookies mode sets CloudFront-Policy,
// CloudFront-Signature and CloudFront-Key-Pair-Id (Secure, HttpOnly,
// SameSite=Lax, the Domain given) for the resource pattern with its
// placeholders expanded, and redirects to the unsigned URL.
func TestCloudFrontCookies(t *testing.T) {
	h := newHandler(t, `presign {
		`+cfProfile(t, "cdn", "cdn.example.com")+`
		rule /results/* {
			profile cdn
			resource https://{http.request.host}/results/experiment.zarr/*
			cookies example.com
		}
		rule /one/* {
			profile cdn
			strip_prefix /one
			cookies
		}
	}`)
	asked := recordSigns(h)
	at(h, cfClock)
	a := serve(t, h, "GET", "https://cdn.example.com/results/experiment.zarr/.zattrs")
	if a.Code != http.StatusFound || a.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("status %d (%v), Cache-Control %q", a.Code, a.Err, a.Header.Get("Cache-Control"))
	}
	if loc := a.Header.Get("Location"); loc != "https://cdn.example.com/results/experiment.zarr/.zattrs" {
		t.Errorf("Location %s, want the unsigned URL", loc)
	}
	cookies := map[string]*http.Cookie{}
	for _, line := range a.Header.Values("Set-Cookie") {
		for _, attr := range []string{"Path=/", "Domain=example.com", "Secure", "HttpOnly", "SameSite=Lax", "Max-Age=3600", "Expires=Thu, 01 Jan 2026 01:00:00 GMT"} {
			if !strings.Contains(line, attr) {
				t.Errorf("Set-Cookie %q lacks %s", line, attr)
			}
		}
		c, err := http.ParseSetCookie(line)
		if err != nil {
			t.Fatalf("Set-Cookie %q: %v", line, err)
		}
		cookies[c.Name] = c
	}
	if len(cookies) != 3 || cookies["CloudFront-Policy"] == nil || cookies["CloudFront-Signature"] == nil || cookies["CloudFront-Key-Pair-Id"].Value != cfKeyID {
		t.Fatalf("cookies %v", a.Header.Values("Set-Cookie"))
	}
	if r := lastSigned(t, asked); r.Resource != "https://cdn.example.com/results/experiment.zarr/*" || !r.SignTime.Equal(cfClock) || r.ClientIP.IsValid() {
		t.Errorf("signed for resource %q at %s, IP %s; want the pattern expanded, at %s, no IP", r.Resource, r.SignTime, r.ClientIP, cfClock)
	}

	// without resource: canned cookies for the one object, host-only
	a = serve(t, h, "GET", "/one/a.bin")
	names := []string{}
	for _, line := range a.Header.Values("Set-Cookie") {
		if strings.Contains(line, "Domain=") {
			t.Errorf("host-only cookie has a Domain: %s", line)
		}
		names = append(names, strings.SplitN(line, "=", 2)[0])
	}
	if got := strings.Join(names, " "); got != "CloudFront-Expires CloudFront-Signature CloudFront-Key-Pair-Id" {
		t.Errorf("canned cookies: %s", got)
	}
	if loc := a.Header.Get("Location"); loc != "https://cdn.example.com/a.bin" {
		t.Errorf("Location %s", loc)
	}
}

// TestCloudFrontResourcePlaceholders: the handler has the kind expand a
// rule's resource for each request with its path ({presign.path}) and
// Caddy's placeholders. (The escaping of their values, and {env.*} taken as
// it is: signers/cloudfront's TestCloudFrontResourcePlaceholders.)
func TestCloudFrontResourcePlaceholders(t *testing.T) {
	t.Setenv("CF_TEST_TREE", "https://cdn.example.com/shared/*")
	h := newHandler(t, `presign {
		`+cfProfile(t, "cdn", "cdn.example.com")+`
		rule /files/* {
			profile cdn
			resource https://cdn.example.com/{presign.path}
		}
		rule /shared/* {
			profile cdn
			resource {env.CF_TEST_TREE}
		}
	}`)
	asked := recordSigns(h)
	at(h, cfClock)
	for key, want := range map[string]string{
		"*":           "https://cdn.example.com/files/%2A",
		"ünï/x y.txt": "https://cdn.example.com/files/%C3%BCn%C3%AF/x%20y.txt",
	} {
		a := serve(t, h, "GET", pathFor("/files/", key))
		if a.Code != http.StatusFound {
			t.Fatalf("%q: status %d (%v)", key, a.Code, a.Err)
		}
		if r := lastSigned(t, asked); r.Resource != want || r.Key != "files/"+key {
			t.Errorf("%q: signed %q for resource %q, want %q", key, r.Key, r.Resource, want)
		}
		if base := strings.SplitN(a.Header.Get("Location"), "?", 2)[0]; base != want {
			t.Errorf("%q: the resource does not match the URL %s", key, base)
		}
	}
	serve(t, h, "GET", "/shared/x")
	if r := lastSigned(t, asked); r.Resource != "https://cdn.example.com/shared/*" {
		t.Errorf("{env.*} resource %q: the operator's value is taken as it is", r.Resource)
	}
}

// TestCloudFrontStable: with stable, two requests within a window get the
// same URL, signed at the window's start, the next window another, and
// Cache-Control says what is left of the window. (The policy's expiry at
// the window's start plus expires: signers/cloudfront.)
func TestCloudFrontStable(t *testing.T) {
	h := newHandler(t, cfRuleConfig(t, "/img/*", "strip_prefix /img", "expires 10m", "stable 1m", "bind_client_ip"))
	asked := recordSigns(h)
	start := cfClock
	ip := func(r *http.Request) { r.RemoteAddr = "192.0.2.1:1234" }
	at(h, start.Add(5*time.Second))
	a1 := serve(t, h, "GET", "/img/cat.jpg", ip)
	r1 := lastSigned(t, asked)
	at(h, start.Add(50*time.Second))
	a2 := serve(t, h, "GET", "/img/cat.jpg", ip)
	at(h, start.Add(65*time.Second))
	a3 := serve(t, h, "GET", "/img/cat.jpg", ip)
	u1, u2, u3 := a1.Header.Get("Location"), a2.Header.Get("Location"), a3.Header.Get("Location")
	if u1 == "" || u1 != u2 {
		t.Errorf("one window, two URLs:\n%s\n%s", u1, u2)
	}
	if u3 == u1 {
		t.Errorf("the next window gave the same URL")
	}
	if cc := a2.Header.Get("Cache-Control"); cc != "private, max-age=10" {
		t.Errorf("Cache-Control %q, want private, max-age=10", cc)
	}
	if !r1.SignTime.Equal(start) || r1.Expires != 10*time.Minute {
		t.Errorf("signed at %s for %s, want the window's start %s for 10m", r1.SignTime, r1.Expires, start)
	}
}

// TestGCSThroughHandler: a GCS profile's rules answer GET and HEAD (with
// overrides and stable), PUT (content_type_prefix: the type as the client
// sent it is signed; another is 415) and virtual-hosted URLs with
// redirects under the profile's origin; a stable hot key gets the same URL
// within its window; a POST answers a form's JSON, asked with the type of
// ?type=. (That the URLs and forms verify, and that a tampered one does
// not: signers/gcs's TestGCSSignedURLsVerify.)
func TestGCSThroughHandler(t *testing.T) {
	file := gcsTestAccount(t).File
	h := newHandler(t, `presign {
		profile g gcs {
			bucket my-bucket
			service_account_file `+file+`
		}
		profile v gcs {
			bucket my-bucket
			service_account_file `+file+`
			url_style virtual_hosted
		}
		rule /dl/* {
			profile g
			strip_prefix /dl
			content_disposition attachment
			content_type text/plain
			stable 1m
		}
		rule /up/* {
			profile g
			strip_prefix /up
			methods PUT POST
			max_size 10MB
			content_type_prefix image/
		}
		rule /v/* {
			profile v
			strip_prefix /v
		}
	}`)
	asked := recordSigns(h)
	check := func(method, path, key, origin string) string {
		t.Helper()
		ct := ""
		if method == "PUT" { // content_type_prefix image/: signed
			ct = "image/png;  q=1"
		}
		a := serve(t, h, method, path, func(r *http.Request) {
			if ct != "" {
				r.Header.Set("Content-Type", ct)
			}
		})
		loc := a.Header.Get("Location")
		if a.Code/100 != 3 || !strings.HasPrefix(loc, origin) {
			t.Fatalf("%s %s: %d %q, want a redirect to %s...", method, path, a.Code, loc, origin)
		}
		if r := lastSigned(t, asked); r.Method != method || r.Key != key || r.ContentType != ct || r.Expires != 15*time.Minute {
			t.Fatalf("%s %s: signed %s %q (Content-Type %q) for %s, want %s %q (%q) for the profile's 15m", method, path, r.Method, r.Key, r.ContentType, r.Expires, method, key, ct)
		}
		if ct != "" {
			if a := serve(t, h, method, path, func(r *http.Request) { r.Header.Set("Content-Type", "text/html") }); a.Code != http.StatusUnsupportedMediaType {
				t.Fatalf("%s %s with text/html: %d, want 415", method, path, a.Code)
			}
		}
		return loc
	}
	for _, key := range []string{"a.txt", "dir/a b+c.txt", "ünï/日本語 🎉.txt", "100%?#.bin"} {
		get := check("GET", pathFor("/dl/", key), key, "https://storage.googleapis.com/my-bucket/")
		if r := lastSigned(t, asked); r.Options.ContentDisposition != "attachment" || r.Options.ContentType != "text/plain" {
			t.Errorf("GET %q: signed with options %+v, want the rule's overrides", key, r.Options)
		}
		if again := check("GET", pathFor("/dl/", key), key, "https://storage.googleapis.com/"); again != get {
			t.Errorf("stable: a second GET within the window got another URL")
		}
		check("HEAD", pathFor("/dl/", key), key, "https://storage.googleapis.com/my-bucket/")
		check("PUT", pathFor("/up/", key), key, "https://storage.googleapis.com/my-bucket/")
		check("GET", pathFor("/v/", key), key, "https://my-bucket.storage.googleapis.com/")
	}
	if a := serve(t, h, "GET", "/dl/x"); !strings.HasPrefix(a.Header.Get("Cache-Control"), "private, max-age=") {
		t.Errorf("stable answer's Cache-Control %q", a.Header.Get("Cache-Control"))
	}

	a := serve(t, h, "POST", "/up/photos/cat.jpg?type=image/jpeg")
	var form struct {
		URL       string            `json:"url"`
		Fields    map[string]string `json:"fields"`
		ExpiresAt time.Time         `json:"expires_at"`
	}
	if err := json.Unmarshal([]byte(a.Body), &form); err != nil || a.Code != http.StatusOK {
		t.Fatalf("POST: %d %s (%v)", a.Code, a.Body, err)
	}
	if form.URL != "https://storage.googleapis.com/my-bucket/" || form.Fields["key"] != "photos/cat.jpg" || form.Fields["policy"] == "" || form.ExpiresAt.IsZero() {
		t.Errorf("POST form %+v", form)
	}
	if r := lastSigned(t, asked); r.Method != "POST" || r.ContentType != "image/jpeg" || r.Options.MaxSize != 10_000_000 {
		t.Errorf("POST signed %s with Content-Type %q, max_size %d; want the type asked and 10000000", r.Method, r.ContentType, r.Options.MaxSize)
	}
	if form.Fields["Content-Type"] != "image/jpeg" {
		t.Errorf("form's Content-Type field %q, want image/jpeg", form.Fields["Content-Type"])
	}
}
