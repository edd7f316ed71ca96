package presign

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"html"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/caddy-presign/presign/internal/testenv"
)

// TestS3PutThroughRedirect: a PUT through the handler's 307 stores the body
// on the real server; the same URL with one signature character changed is
// refused and stores nothing.
func TestS3PutThroughRedirect(t *testing.T) {
	s := testenv.StartS3(t)
	s.CreateBucket(t, "drop")
	h := newHandler(t, `presign {
		`+s3Profile("drop", s, "drop")+`
		rule /up/* {
			profile drop
			methods PUT
			strip_prefix /up
		}
	}`)
	for _, key := range []string{"report.bin", "dir/ünï code (1).txt"} {
		t.Run(key, func(t *testing.T) {
			body := []byte("the bytes of " + key + "\x00\xff")
			a := serve(t, h, "PUT", pathFor("/up/", key))
			if a.Code != http.StatusTemporaryRedirect {
				t.Fatalf("PUT: status %d (%v), want 307", a.Code, a.Err)
			}
			loc := a.Header.Get("Location")
			if !strings.HasPrefix(loc, s.Endpoint+"/drop/") {
				t.Fatalf("Location %q is not on the bucket", loc)
			}
			if a.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("307 Cache-Control %q, want no-store", a.Header.Get("Cache-Control"))
			}
			if code, _, resp := fetch(t, "PUT", loc, bytes.NewReader(body)); code != http.StatusOK {
				t.Fatalf("PUT to the Location: %d %s", code, resp)
			}
			got, err := s.Get(t, "drop", key)
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("stored object: %q, %v; want %q", got, err, body)
			}

			// a tampered URL for another key stores nothing
			other := "tampered/" + key
			loc = serve(t, h, "PUT", pathFor("/up/", other)).Header.Get("Location")
			if code, _, _ := fetch(t, "PUT", tamper(t, loc), bytes.NewReader(body)); code != http.StatusForbidden {
				t.Errorf("PUT with a tampered signature: status %d, want 403", code)
			}
			if s.Exists(t, "drop", other) {
				t.Errorf("the tampered PUT stored %q", other)
			}
			// a PUT URL is no download URL
			if code, _, _ := fetch(t, "GET", serve(t, h, "PUT", pathFor("/up/", key)).Header.Get("Location"), nil); code != http.StatusForbidden {
				t.Errorf("GET on a URL presigned for PUT: status %d, want 403", code)
			}
		})
	}
}

// postForm is the JSON answer to a POST: an S3 POST policy form.
type postForm struct {
	URL       string            `json:"url"`
	Fields    map[string]string `json:"fields"`
	ExpiresAt string            `json:"expires_at"`
}

// formOf decodes the handler's answer to a POST, failing the test unless it
// is a 200 JSON form that no cache may keep.
func formOf(t *testing.T, a answer) postForm {
	t.Helper()
	if a.Code != http.StatusOK {
		t.Fatalf("POST: status %d (%v), want 200", a.Code, a.Err)
	}
	if ct := a.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("POST: Content-Type %q, want application/json", ct)
	}
	if cc := a.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("POST: Cache-Control %q, want no-store", cc)
	}
	var f postForm
	if err := json.Unmarshal([]byte(a.Body), &f); err != nil {
		t.Fatalf("POST answer %q: %v", a.Body, err)
	}
	if f.URL == "" || len(f.Fields) == 0 || f.ExpiresAt == "" {
		t.Fatalf("POST answer %q lacks url, fields or expires_at", a.Body)
	}
	return f
}

// postToBucket posts a multipart/form-data form the way S3 wants it, and a browser
// builds it: every field of the policy form, then Content-Type (none when
// contentType is ""), then the file part, last. It returns the status and
// the body of the store's answer.
func postToBucket(t *testing.T, f postForm, contentType, filename string, file []byte) (int, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	names := make([]string, 0, len(f.Fields))
	for n := range f.Fields {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := mw.WriteField(n, f.Fields[n]); err != nil {
			t.Fatal(err)
		}
	}
	if contentType != "" {
		if err := mw.WriteField("Content-Type", contentType); err != nil {
			t.Fatal(err)
		}
	}
	fw, err := mw.CreateFormFile("file", filename)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(file)
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("POST", f.URL, &buf)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", f.URL, err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	out.ReadFrom(resp.Body)
	return resp.StatusCode, out.String()
}

// withFields returns a copy of f with the given fields changed.
func withFields(f postForm, kv ...string) postForm {
	c := f
	c.Fields = make(map[string]string, len(f.Fields))
	for k, v := range f.Fields {
		c.Fields[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		c.Fields[kv[i]] = kv[i+1]
	}
	return c
}

// contentTypeOf is the Content-Type the store keeps for bucket/key.
func contentTypeOf(t *testing.T, s *testenv.S3, bucket, key string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := s.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("head %s/%s: %v", bucket, key, err)
	}
	return aws.ToString(out.ContentType)
}

// TestS3PostPolicyUpload: the POST form of a rule with max_size and
// content_type_prefix, posted as multipart/form-data straight to the real
// server, stores a file within the limits, and the server refuses (storing
// nothing) a file over max_size, a wrong content type, a tampered policy, an
// expired policy and a form whose key was changed.
func TestS3PostPolicyUpload(t *testing.T) {
	s := testenv.StartS3(t)
	s.CreateBucket(t, "uploads")
	h := newHandler(t, `presign {
		`+s3Profile("up", s, "uploads")+`
		rule /form/* {
			profile up
			methods POST
			strip_prefix /form
			key in/{presign.path}
			max_size 1KB
			content_type_prefix image/
		}
		rule /short/* {
			profile up
			methods POST
			strip_prefix /short
			key in/{presign.path}
			expires 1m
		}
	}`)
	now := time.Now()
	at(h, now)
	f := formOf(t, serve(t, h, "POST", "/form/cat.png"))
	if want := s.Endpoint + "/uploads/"; f.URL != want {
		t.Errorf("form url %q, want %q", f.URL, want)
	}
	if want := time.Unix(now.Unix(), 0).Add(15 * time.Minute).UTC().Format(time.RFC3339); f.ExpiresAt != want {
		t.Errorf("expires_at %q, want %q", f.ExpiresAt, want)
	}
	if f.Fields["key"] != "in/cat.png" {
		t.Errorf("key field %q, want the rule's key in/cat.png", f.Fields["key"])
	}
	for _, n := range []string{"policy", "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature"} {
		if f.Fields[n] == "" {
			t.Errorf("form field %s missing: %v", n, f.Fields)
		}
	}
	if strings.Contains(fieldsJSON(f.Fields), s.SecretKey) {
		t.Fatal("the form holds the secret key")
	}
	var policy struct {
		Expiration string `json:"expiration"`
		Conditions []any  `json:"conditions"`
	}
	raw, err := base64.StdEncoding.DecodeString(f.Fields["policy"])
	if err != nil || json.Unmarshal(raw, &policy) != nil {
		t.Fatalf("policy %q is not base64 JSON: %v", f.Fields["policy"], err)
	}
	conds, _ := json.Marshal(policy.Conditions)
	for _, want := range []string{`["eq","$key","in/cat.png"]`, `["content-length-range",0,1000]`, `["starts-with","$Content-Type","image/"]`, `{"bucket":"uploads"}`} {
		if !strings.Contains(string(conds), want) {
			t.Errorf("policy conditions %s lack %s", conds, want)
		}
	}

	png := bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, 250) // 1000 bytes: exactly max_size
	// refused checks that the store refused a form for the reason why (a
	// part of its XML answer) and stored none of keys
	refused := func(t *testing.T, what, why string, code int, body string, keys ...string) {
		t.Helper()
		if code < 400 || code >= 500 || !strings.Contains(html.UnescapeString(body), why) {
			t.Errorf("%s: the store answered %d %s; want a refusal with %s", what, code, body, why)
		}
		for _, k := range keys {
			if s.Exists(t, "uploads", k) {
				t.Errorf("%s: %s was stored", what, k)
			}
		}
	}

	t.Run("over max_size", func(t *testing.T) {
		code, body := postToBucket(t, f, "image/png", "cat.png", append(png, 0))
		refused(t, "1001 bytes with max_size 1KB", "<Code>EntityTooLarge</Code>", code, body, "in/cat.png")
	})
	t.Run("wrong content type", func(t *testing.T) {
		code, body := postToBucket(t, f, "text/plain", "cat.png", png[:10])
		refused(t, "Content-Type text/plain with content_type_prefix image/", `Policy Condition failed: ["starts-with","$Content-Type","image/"]`, code, body, "in/cat.png")
	})
	t.Run("no content type", func(t *testing.T) {
		code, body := postToBucket(t, f, "", "cat.png", png[:10])
		refused(t, "no Content-Type field with content_type_prefix image/", `Policy Condition failed: ["starts-with","$Content-Type","image/"]`, code, body, "in/cat.png")
	})
	t.Run("tampered policy", func(t *testing.T) {
		p := []byte(f.Fields["policy"])
		i := len(p) / 2
		if p[i] == 'A' {
			p[i] = 'B'
		} else {
			p[i] = 'A'
		}
		code, body := postToBucket(t, withFields(f, "policy", string(p)), "image/png", "cat.png", png[:10])
		refused(t, "a policy with one character changed", "<Code>SignatureDoesNotMatch</Code>", code, body, "in/cat.png")
		if code != http.StatusForbidden {
			t.Errorf("tampered policy: status %d, want 403", code)
		}
	})
	t.Run("tampered signature", func(t *testing.T) {
		sig := []byte(f.Fields["x-amz-signature"])
		sig[3] ^= 1
		code, body := postToBucket(t, withFields(f, "x-amz-signature", string(sig)), "image/png", "cat.png", png[:10])
		refused(t, "a signature with one character changed", "<Code>SignatureDoesNotMatch</Code>", code, body, "in/cat.png")
	})
	t.Run("key changed", func(t *testing.T) {
		for k, why := range map[string]string{
			"in/dog.png":     `Policy Condition failed: ["eq","$key","in/cat.png"]`,
			"in/cat.png.exe": `Policy Condition failed: ["eq","$key","in/cat.png"]`,
			"other/cat.png":  `Policy Condition failed: ["eq","$key","in/cat.png"]`,
			"":               "must contain a field named 'key'",
		} {
			code, body := postToBucket(t, withFields(f, "key", k), "image/png", "cat.png", png[:10])
			refused(t, "the key field changed to "+k, why, code, body, "in/cat.png", "in/dog.png", "in/cat.png.exe", "other/cat.png")
		}
	})
	t.Run("expired", func(t *testing.T) {
		at(h, time.Now().Add(-2*time.Minute))
		old := formOf(t, serve(t, h, "POST", "/short/old.txt"))
		at(h, time.Now())
		code, body := postToBucket(t, old, "text/plain", "old.txt", []byte("too late"))
		refused(t, "a form signed 2 minutes ago with expires 1m", "Policy expired", code, body, "in/old.txt")
		if code != http.StatusForbidden {
			t.Errorf("expired policy: status %d, want 403", code)
		}
	})
	// last, so that the refusals above prove that nothing was stored
	t.Run("within limits", func(t *testing.T) {
		code, body := postToBucket(t, f, "image/png", "cat.png", png)
		if code != http.StatusNoContent {
			t.Fatalf("upload within limits: %d %s, want 204", code, body)
		}
		got, err := s.Get(t, "uploads", "in/cat.png")
		if err != nil || !bytes.Equal(got, png) {
			t.Fatalf("stored %d bytes (%v), want the %d posted", len(got), err, len(png))
		}
		if ct := contentTypeOf(t, s, "uploads", "in/cat.png"); ct != "image/png" {
			t.Errorf("stored Content-Type %q, want image/png", ct)
		}
	})
	t.Run("any content type", func(t *testing.T) {
		// a rule without content_type_prefix lets the form set any type
		g := formOf(t, serve(t, h, "POST", "/short/notes.txt"))
		code, body := postToBucket(t, g, "text/plain; charset=utf-8", "notes.txt", []byte("hello"))
		if code != http.StatusNoContent {
			t.Fatalf("upload with any Content-Type: %d %s, want 204", code, body)
		}
		if ct := contentTypeOf(t, s, "uploads", "in/notes.txt"); ct != "text/plain; charset=utf-8" {
			t.Errorf("stored Content-Type %q, want text/plain; charset=utf-8", ct)
		}
		// the Content-Type field is part of the form: a form without one is
		// refused, as the policy's starts-with condition has nothing to test
		g = formOf(t, serve(t, h, "POST", "/short/bare.txt"))
		code, body = postToBucket(t, g, "", "bare.txt", []byte("hello"))
		refused(t, "no Content-Type field", `Policy Condition failed: ["starts-with","$Content-Type",""]`, code, body, "in/bare.txt")
	})
}

func fieldsJSON(m map[string]string) string {
	b, _ := json.Marshal(m)
	return string(b)
}

// serveAs is serve for a request that an authentication handler has
// accepted as user: like caddyauth, it sets the http.auth.user.id
// placeholder after the request was prepared ("" leaves it empty).
func serveAs(t *testing.T, h *Handler, method, target, user string) answer {
	t.Helper()
	return serveRequest(t, h, httptest.NewRequest(method, target, nil), user)
}

// TestS3PerUserUploads: with key incoming/{http.auth.user.id}/{presign.path}
// behind authentication, each user's uploads (POST form and PUT) land under
// their own prefix, a user's form cannot be turned to another user's key,
// and a request without a user is answered 400 with nothing signed.
func TestS3PerUserUploads(t *testing.T) {
	s := testenv.StartS3(t)
	s.CreateBucket(t, "shared")
	h := newHandler(t, `presign {
		`+s3Profile("shared", s, "shared")+`
		rule /mine/* {
			profile shared
			methods POST PUT
			strip_prefix /mine
			key incoming/{http.auth.user.id}/{presign.path}
		}
	}`)
	calls := 0
	for _, r := range h.Rules {
		r.signer = countingSigner{r.signer, &calls}
	}

	f := formOf(t, serveAs(t, h, "POST", "/mine/holiday%20photo.jpg", "alice"))
	if k := f.Fields["key"]; k != "incoming/alice/holiday photo.jpg" {
		t.Fatalf("alice's key %q, want incoming/alice/holiday photo.jpg", k)
	}
	if code, body := postToBucket(t, f, "image/jpeg", "holiday photo.jpg", []byte("jpeg of alice")); code != http.StatusNoContent {
		t.Fatalf("alice's upload: %d %s", code, body)
	}
	if got, err := s.Get(t, "shared", "incoming/alice/holiday photo.jpg"); err != nil || string(got) != "jpeg of alice" {
		t.Errorf("alice's object: %q, %v", got, err)
	}

	// bob's form cannot be pointed at alice's prefix
	g := formOf(t, serveAs(t, h, "POST", "/mine/holiday%20photo.jpg", "bob"))
	if k := g.Fields["key"]; k != "incoming/bob/holiday photo.jpg" {
		t.Errorf("bob's key %q", k)
	}
	code, body := postToBucket(t, withFields(g, "key", "incoming/alice/holiday photo.jpg"), "image/jpeg", "x.jpg", []byte("bob was here"))
	if why := `Policy Condition failed: ["eq","$key","incoming/bob/holiday photo.jpg"]`; code != http.StatusForbidden || !strings.Contains(html.UnescapeString(body), why) {
		t.Errorf("bob's form with alice's key: %d %s, want 403 with %s", code, body, why)
	}
	if got, _ := s.Get(t, "shared", "incoming/alice/holiday photo.jpg"); string(got) != "jpeg of alice" {
		t.Errorf("alice's object was overwritten: %q", got)
	}

	// PUT: the 307 goes to alice's prefix too
	a := serveAs(t, h, "PUT", "/mine/notes.txt", "alice")
	loc := a.Header.Get("Location")
	if a.Code != http.StatusTemporaryRedirect || !strings.HasPrefix(loc, s.Endpoint+"/shared/incoming/alice/notes.txt?") {
		t.Fatalf("alice's PUT: %d %q", a.Code, loc)
	}
	if code, _, _ := fetch(t, "PUT", loc, strings.NewReader("note")); code != http.StatusOK {
		t.Fatalf("PUT to alice's Location: %d", code)
	}
	if !s.Exists(t, "shared", "incoming/alice/notes.txt") {
		t.Error("alice's PUT stored nothing")
	}

	// no user: incoming//x is refused before anything is signed
	calls = 0
	for _, m := range []string{"POST", "PUT"} {
		a := serveAs(t, h, m, "/mine/x.jpg", "")
		if a.Code != http.StatusBadRequest || a.Header.Get("Location") != "" || strings.Contains(a.Body, "policy") {
			t.Errorf("%s without a user: %d %q %q, want 400 and nothing signed", m, a.Code, a.Header.Get("Location"), a.Body)
		}
	}
	// a user id that is a path of its own is no way out of the prefix
	for _, user := range []string{"..", "a/../b", "."} {
		if a := serveAs(t, h, "POST", "/mine/x.jpg", user); a.Code != http.StatusBadRequest {
			t.Errorf("user %q: status %d, want 400", user, a.Code)
		}
	}
	if calls != 0 {
		t.Errorf("the signer was called %d times for refused keys", calls)
	}
	if u, _ := url.Parse(f.URL); u.Path != "/shared/" {
		t.Errorf("form url %q", f.URL)
	}
}
