package systest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/caddy-presign/presign/systest/harness"
)

// Downloads and uploads through Caddy with presign, against versitygw: the
// URLs and forms Caddy hands out are used on the real server, and tampered
// ones are refused.

// TestS3DownloadFollowsRedirect: following the redirect returns the object's
// bytes for GET and HEAD, for plain keys and keys with spaces, unicode and
// '+', and the real server refuses the same URL with one signature
// character changed, and a GET on a URL signed for HEAD.
func TestS3DownloadFollowsRedirect(t *testing.T) {
	s, base := s3Site(t, "media", `rule /dl/* {
			profile media
			strip_prefix /dl
		}`)
	origin := s.Endpoint + "/media/"
	for _, key := range []string{"hello.txt", "dir/a b.txt", "ünï/日本語.txt", "c+d=e&f;g.txt", "emoji 🎉 (1).bin", "~tilde/it's.txt"} {
		t.Run(key, func(t *testing.T) {
			body := []byte("bytes of " + key)
			s.Put(t, "media", key, body, "application/octet-stream")

			code, hdr, _ := harness.Fetch(t, "GET", base+pathFor("/dl/", key), nil)
			if code != http.StatusFound {
				t.Fatalf("GET: status %d, want 302", code)
			}
			if cc := hdr.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("GET: Cache-Control %q, want no-store", cc)
			}
			loc := hdr.Get("Location")
			if !strings.HasPrefix(loc, origin) {
				t.Fatalf("Location %q does not start with the profile's origin %q", loc, origin)
			}
			code, _, got := harness.Fetch(t, "GET", loc, nil)
			if code != http.StatusOK || string(got) != string(body) {
				t.Fatalf("following the redirect: %d %q, want 200 %q", code, got, body)
			}
			if code, _, _ := harness.Fetch(t, "GET", harness.Tamper(t, loc), nil); code != http.StatusForbidden {
				t.Errorf("tampered signature: status %d, want 403", code)
			}

			head := location(t, http.StatusFound, "HEAD", base+pathFor("/dl/", key))
			code, hdr, _ = harness.Fetch(t, "HEAD", head, nil)
			if code != http.StatusOK || hdr.Get("Content-Length") != strconv.Itoa(len(body)) {
				t.Errorf("HEAD through the redirect: %d, Content-Length %q; want 200, %d", code, hdr.Get("Content-Length"), len(body))
			}
			if code, _, _ := harness.Fetch(t, "GET", head, nil); code != http.StatusForbidden {
				t.Errorf("GET on a URL presigned for HEAD: status %d, want 403", code)
			}
		})
	}
}

// TestS3ExpiredURLRefused: a URL works on the real server while its
// lifetime lasts, and the same URL is refused once it has passed.
func TestS3ExpiredURLRefused(t *testing.T) {
	s, base := s3Site(t, "bucket1", `rule /* {
			profile bucket1
			expires 3s
		}`)
	s.Put(t, "bucket1", "old.txt", []byte("old"), "text/plain")
	loc := location(t, http.StatusFound, "GET", base+"/old.txt")
	// signed for 3 s from the second it was signed in: 2 s left at least
	if code, _, body := harness.Fetch(t, "GET", loc, nil); code != http.StatusOK {
		t.Fatalf("URL signed now with expires 3s: status %d %s, want 200", code, body)
	}
	u, _ := url.Parse(loc)
	date, err := time.Parse("20060102T150405Z", u.Query().Get("X-Amz-Date"))
	if err != nil || u.Query().Get("X-Amz-Expires") != "3" {
		t.Fatalf("Location %s: X-Amz-Date %v, X-Amz-Expires %q; want 3", loc, err, u.Query().Get("X-Amz-Expires"))
	}
	time.Sleep(time.Until(date.Add(4 * time.Second)))
	if code, _, _ := harness.Fetch(t, "GET", loc, nil); code != http.StatusForbidden {
		t.Errorf("the same URL a second after its expiry: status %d, want 403", code)
	}
}

// TestS3ResponseOverrides: content_disposition (with a non-ASCII file name),
// content_type and cache_control reach the real server's response.
func TestS3ResponseOverrides(t *testing.T) {
	s, base := s3Site(t, "docs", `rule /files/* {
			profile docs
			strip_prefix /files
			content_disposition attachment
			content_type application/pdf
			cache_control "private, max-age=60"
		}`)
	for key, want := range map[string]string{
		"reports/résumé 2026.pdf": `attachment; filename="r_sum_ 2026.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%202026.pdf`,
		"plain/report.pdf":        `attachment; filename="report.pdf"`,
		`q/say "hi".pdf`:          `attachment; filename="say \"hi\".pdf"`,
	} {
		s.Put(t, "docs", key, []byte("%PDF"), "application/octet-stream")
		loc := location(t, http.StatusFound, "GET", base+pathFor("/files/", key))
		code, hdr, _ := harness.Fetch(t, "GET", loc, nil)
		if code != http.StatusOK {
			t.Fatalf("%s: status %d", key, code)
		}
		if got := hdr.Get("Content-Disposition"); got != want {
			t.Errorf("%s: Content-Disposition %q, want %q", key, got, want)
		}
		if got := hdr.Get("Content-Type"); got != "application/pdf" {
			t.Errorf("%s: Content-Type %q, want application/pdf", key, got)
		}
		if got := hdr.Get("Cache-Control"); got != "private, max-age=60" {
			t.Errorf("%s: Cache-Control %q", key, got)
		}
	}
}

// TestS3StableURLWorks: two requests a second apart inside a stable window
// get the same URL, signed at the window's start, with a Cache-Control
// max-age of what is left of the window; it works on the real server and
// the same URL with one signature character changed does not. (The window
// arithmetic at chosen instants is TestS3Stable in the root package.)
func TestS3StableURLWorks(t *testing.T) {
	s, base := s3Site(t, "gallery", `rule /img/* {
			profile gallery
			strip_prefix /img
			expires 10m
			stable 1m
		}`)
	s.Put(t, "gallery", "cat.jpg", []byte("meow"), "image/jpeg")
	for attempt := 0; ; attempt++ {
		w := time.Now().Unix() / 60
		code1, h1, _ := harness.Fetch(t, "GET", base+"/img/cat.jpg", nil)
		time.Sleep(1100 * time.Millisecond) // another second: no per-second coincidence
		code2, h2, _ := harness.Fetch(t, "GET", base+"/img/cat.jpg", nil)
		if time.Now().Unix()/60 != w && attempt < 2 {
			continue // a window boundary passed in between
		}
		u1, u2 := h1.Get("Location"), h2.Get("Location")
		if code1 != http.StatusFound || code2 != http.StatusFound || u1 == "" || u1 != u2 {
			t.Fatalf("two requests in one window: %d %s\n%d %s\nwant 302 and the same URL", code1, u1, code2, u2)
		}
		for _, cc := range []string{h1.Get("Cache-Control"), h2.Get("Cache-Control")} {
			age, err := strconv.Atoi(strings.TrimPrefix(cc, "private, max-age="))
			if err != nil || age < 1 || age > 60 {
				t.Errorf("Cache-Control %q, want private, max-age= what is left of the window", cc)
			}
		}
		q, _ := url.Parse(u1)
		if d, want := q.Query().Get("X-Amz-Date"), time.Unix(w*60, 0).UTC().Format("20060102T150405Z"); d != want {
			t.Errorf("X-Amz-Date %s, want the window's start %s", d, want)
		}
		if code, _, body := harness.Fetch(t, "GET", u1, nil); code != http.StatusOK || string(body) != "meow" {
			t.Errorf("stable URL: %d %q", code, body)
		}
		if code, _, _ := harness.Fetch(t, "GET", harness.Tamper(t, u1), nil); code != http.StatusForbidden {
			t.Errorf("tampered stable URL: status %d, want 403", code)
		}
		return
	}
}

// TestS3RespondJSON: respond json gives the URL and its expiry as JSON, and
// the URL works.
func TestS3RespondJSON(t *testing.T) {
	s, base := s3Site(t, "api", `rule /api/url/* {
			profile api
			strip_prefix /api/url
			respond json
			expires 5m
		}`)
	s.Put(t, "api", "data.csv", []byte("a,b\n1,2\n"), "text/csv")
	before := time.Now().Unix()
	code, hdr, body := harness.Fetch(t, "GET", base+"/api/url/data.csv", nil)
	after := time.Now().Unix()
	if code != http.StatusOK || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, Content-Type %q", code, hdr.Get("Content-Type"))
	}
	if hdr.Get("Cache-Control") != "no-store" || hdr.Get("Location") != "" {
		t.Errorf("JSON answer headers: %v", hdr)
	}
	var got struct {
		Method, URL string
		ExpiresAt   string `json:"expires_at"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	exp, err := time.Parse(time.RFC3339, got.ExpiresAt)
	if got.Method != "GET" || err != nil || exp.Unix() < before+300 || exp.Unix() > after+300 {
		t.Errorf("method %q expires_at %q, want GET and 5m after the request", got.Method, got.ExpiresAt)
	}
	if code, _, body := harness.Fetch(t, "GET", got.URL, nil); code != http.StatusOK || string(body) != "a,b\n1,2\n" {
		t.Errorf("JSON URL: %d %q", code, body)
	}
	if code, _, _ := harness.Fetch(t, "GET", harness.Tamper(t, got.URL), nil); code != http.StatusForbidden {
		t.Errorf("tampered JSON URL: status %d, want 403", code)
	}
}

// TestS3PutThroughRedirect: a PUT through the handler's 307 stores the body
// on the real server; the same URL with one signature character changed is
// refused and stores nothing.
func TestS3PutThroughRedirect(t *testing.T) {
	s, base := s3Site(t, "drop", `rule /up/* {
			profile drop
			methods PUT
			strip_prefix /up
		}`)
	for _, key := range []string{"report.bin", "dir/ünï code (1).txt"} {
		t.Run(key, func(t *testing.T) {
			body := []byte("the bytes of " + key + "\x00\xff")
			code, hdr, _ := harness.Fetch(t, "PUT", base+pathFor("/up/", key), nil)
			if code != http.StatusTemporaryRedirect {
				t.Fatalf("PUT: status %d, want 307", code)
			}
			loc := hdr.Get("Location")
			if !strings.HasPrefix(loc, s.Endpoint+"/drop/") {
				t.Fatalf("Location %q is not on the bucket", loc)
			}
			if hdr.Get("Cache-Control") != "no-store" {
				t.Errorf("307 Cache-Control %q, want no-store", hdr.Get("Cache-Control"))
			}
			if code, _, resp := harness.Fetch(t, "PUT", loc, bytes.NewReader(body)); code != http.StatusOK {
				t.Fatalf("PUT to the Location: %d %s", code, resp)
			}
			got, err := s.Get(t, "drop", key)
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("stored object: %q, %v; want %q", got, err, body)
			}

			// a tampered URL for another key stores nothing
			other := "tampered/" + key
			loc = location(t, http.StatusTemporaryRedirect, "PUT", base+pathFor("/up/", other))
			if code, _, _ := harness.Fetch(t, "PUT", harness.Tamper(t, loc), bytes.NewReader(body)); code != http.StatusForbidden {
				t.Errorf("PUT with a tampered signature: status %d, want 403", code)
			}
			if s.Exists(t, "drop", other) {
				t.Errorf("the tampered PUT stored %q", other)
			}
			// a PUT URL is no download URL
			loc = location(t, http.StatusTemporaryRedirect, "PUT", base+pathFor("/up/", key))
			if code, _, _ := harness.Fetch(t, "GET", loc, nil); code != http.StatusForbidden {
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

// formOf posts to u (Caddy) and decodes the answer, failing the test
// unless it is a 200 JSON form that no cache may keep.
func formOf(t *testing.T, u string, mods ...func(*http.Request)) postForm {
	t.Helper()
	code, hdr, body := harness.Fetch(t, "POST", u, nil, mods...)
	if code != http.StatusOK {
		t.Fatalf("POST %s: status %d %q, want 200", u, code, body)
	}
	if ct := hdr.Get("Content-Type"); ct != "application/json" {
		t.Errorf("POST: Content-Type %q, want application/json", ct)
	}
	if cc := hdr.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("POST: Cache-Control %q, want no-store", cc)
	}
	var f postForm
	if err := json.Unmarshal(body, &f); err != nil {
		t.Fatalf("POST answer %q: %v", body, err)
	}
	if f.URL == "" || len(f.Fields) == 0 || f.ExpiresAt == "" {
		t.Fatalf("POST answer %q lacks url, fields or expires_at", body)
	}
	return f
}

// postToBucket posts a multipart/form-data form the way S3 wants it, and a browser
// builds it: every field of the policy form but Content-Type, then
// Content-Type (contentType; the form's own when contentType is "", none
// when it has none either), then the file part, last. It returns the
// status and the body of the store's answer.
func postToBucket(t *testing.T, f postForm, contentType, filename string, file []byte) (int, string) {
	t.Helper()
	names := make([]string, 0, len(f.Fields))
	for n := range f.Fields {
		if n != "Content-Type" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if contentType == "" {
		contentType = f.Fields["Content-Type"]
	}
	fields := make([]string, 0, 2*len(f.Fields)+2)
	for _, n := range names {
		fields = append(fields, n, f.Fields[n])
	}
	if contentType != "" {
		fields = append(fields, "Content-Type", contentType)
	}
	code, _, body := harness.PostForm(t, f.URL, fields, filename, file)
	return code, string(body)
}

// withFields returns a copy of f with the given fields changed; an empty
// value removes the field.
func withFields(f postForm, kv ...string) postForm {
	c := f
	c.Fields = make(map[string]string, len(f.Fields))
	for k, v := range f.Fields {
		c.Fields[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		c.Fields[kv[i]] = kv[i+1]
		if kv[i+1] == "" {
			delete(c.Fields, kv[i])
		}
	}
	return c
}

// contentTypeOf is the Content-Type the store keeps for bucket/key.
func contentTypeOf(t *testing.T, s *harness.S3, bucket, key string) string {
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
// content_type_prefix, asked with ?type=image/png and posted as
// multipart/form-data straight to the real server, stores a file within
// the limits with that type, and the server refuses (storing nothing) a
// file over max_size, another content type, a tampered policy, an expired
// policy and a form whose key was changed.
func TestS3PostPolicyUpload(t *testing.T) {
	s, base := s3Site(t, "uploads", `rule /form/* {
			profile uploads
			methods POST
			strip_prefix /form
			key in/{presign.path}
			max_size 1KB
			content_type_prefix image/
		}
		rule /short/* {
			profile uploads
			methods POST
			strip_prefix /short
			key in/{presign.path}
			expires 1m
		}
		rule /brief/* {
			profile uploads
			methods POST
			strip_prefix /brief
			key in/{presign.path}
			expires 1s
		}`)
	before := time.Now().Unix()
	f := formOf(t, base+"/form/cat.png?type=image/png")
	after := time.Now().Unix()
	if want := s.Endpoint + "/uploads/"; f.URL != want {
		t.Errorf("form url %q, want %q", f.URL, want)
	}
	if exp, err := time.Parse(time.RFC3339, f.ExpiresAt); err != nil || exp.Unix() < before+900 || exp.Unix() > after+900 {
		t.Errorf("expires_at %q, want 15m (the default) after the request", f.ExpiresAt)
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
	for _, want := range []string{`["eq","$key","in/cat.png"]`, `["content-length-range",0,1000]`, `["eq","$Content-Type","image/png"]`, `{"bucket":"uploads"}`} {
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
	if f.Fields["Content-Type"] != "image/png" {
		t.Errorf("the form's Content-Type field %q, want image/png", f.Fields["Content-Type"])
	}
	t.Run("wrong content type", func(t *testing.T) {
		for _, ct := range []string{"text/plain", "image/gif", "image/png2"} {
			code, body := postToBucket(t, f, ct, "cat.png", png[:10])
			refused(t, "Content-Type "+ct+" in a form asked as image/png", `Policy Condition failed: ["eq","$Content-Type","image/png"]`, code, body, "in/cat.png")
		}
	})
	t.Run("no content type", func(t *testing.T) {
		code, body := postToBucket(t, withFields(f, "Content-Type", ""), "", "cat.png", png[:10])
		refused(t, "no Content-Type field in a form asked as image/png", `Policy Condition failed: ["eq","$Content-Type","image/png"]`, code, body, "in/cat.png")
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
		old := formOf(t, base+"/brief/old.txt")
		exp, err := time.Parse(time.RFC3339, old.ExpiresAt)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Until(exp.Add(1100 * time.Millisecond)))
		code, body := postToBucket(t, old, "text/plain", "old.txt", []byte("too late"))
		refused(t, "a form posted a second after its expiry (expires 1s)", "Policy expired", code, body, "in/old.txt")
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
		g := formOf(t, base+"/short/notes.txt")
		code, body := postToBucket(t, g, "text/plain; charset=utf-8", "notes.txt", []byte("hello"))
		if code != http.StatusNoContent {
			t.Fatalf("upload with any Content-Type: %d %s, want 204", code, body)
		}
		if ct := contentTypeOf(t, s, "uploads", "in/notes.txt"); ct != "text/plain; charset=utf-8" {
			t.Errorf("stored Content-Type %q, want text/plain; charset=utf-8", ct)
		}
		// the Content-Type field is part of the form: a form without one is
		// refused, as the policy's starts-with condition has nothing to test
		g = formOf(t, base+"/short/bare.txt")
		code, body = postToBucket(t, g, "", "bare.txt", []byte("hello"))
		refused(t, "no Content-Type field", `Policy Condition failed: ["starts-with","$Content-Type",""]`, code, body, "in/bare.txt")
	})
}

func fieldsJSON(m map[string]string) string {
	b, _ := json.Marshal(m)
	return string(b)
}

// TestS3PerUserUploads: with key incoming/{http.auth.user.id}/{presign.path}
// behind basic_auth, each user's uploads (POST form and PUT) land under
// their own prefix, and a user's form cannot be turned to another user's
// key. (Requests without a user, or with a user id that is a path of its
// own, are refused before anything is signed: TestKeysOfUsersAndHeaders in
// the root package.)
func TestS3PerUserUploads(t *testing.T) {
	s := harness.StartS3(t)
	s.CreateBucket(t, "shared")
	base := loadSite(t, basicAuth(t, "/mine/*", "alice", "bob")+"\n\t"+presignBlock(s.Profile("shared", "shared"), `rule /mine/* {
			profile shared
			methods POST PUT
			strip_prefix /mine
			key incoming/{http.auth.user.id}/{presign.path}
		}`))

	f := formOf(t, base+"/mine/holiday%20photo.jpg", as("alice"))
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
	g := formOf(t, base+"/mine/holiday%20photo.jpg", as("bob"))
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
	loc := location(t, http.StatusTemporaryRedirect, "PUT", base+"/mine/notes.txt", as("alice"))
	if !strings.HasPrefix(loc, s.Endpoint+"/shared/incoming/alice/notes.txt?") {
		t.Fatalf("alice's PUT: Location %q", loc)
	}
	if code, _, _ := harness.Fetch(t, "PUT", loc, strings.NewReader("note")); code != http.StatusOK {
		t.Fatalf("PUT to alice's Location: %d", code)
	}
	if !s.Exists(t, "shared", "incoming/alice/notes.txt") {
		t.Error("alice's PUT stored nothing")
	}
	if u, _ := url.Parse(f.URL); u.Path != "/shared/" {
		t.Errorf("form url %q", f.URL)
	}
}
