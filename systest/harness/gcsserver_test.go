package harness

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddy-presign/presign/internal/gcsverify"
)

// gcsSend sends a request for the URL u to the server s, whatever host u
// names, with the Host header host. Google's library signs the host
// without its port (real storage is on 443), so the checks send what it
// signed.
func gcsSend(t *testing.T, s *GCSServer, method, u, host string) (int, []byte) {
	t.Helper()
	addr := strings.TrimPrefix(s.URL, "http://")
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}}
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// googleSigned is what Google's Node library signs (testdata/gcs_sign.js)
// for key in the bucket my-bucket of s: URLs, and a POST policy form.
type googleSigned struct {
	Get, Head, Delete, List, VirtualGet string
	Post                                struct {
		Fields map[string]string
	}
}

// signWithGoogle runs testdata/gcs_sign.js for key on s.
func signWithGoogle(t *testing.T, s *GCSServer, acct GCSAccount, key string) googleSigned {
	t.Helper()
	node, env := GCSNodeSigner(t)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(s.URL, "http://"))
	cmd := exec.Command(node, RepoPath("systest/testdata/gcs_sign.js"), acct.File, s.URL, "my-bucket", key, "http://my-bucket.example.test:"+port)
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gcs_sign.js: %v", err)
	}
	var signed googleSigned
	if err := json.Unmarshal(out, &signed); err != nil {
		t.Fatal(err)
	}
	return signed
}

// TestGCSServerAcceptsGoogleURLs: the tests' GCS server accepts the V4
// URLs that Google's Node library signs (GET, HEAD, DELETE of an object,
// a listing with prefix and delimiter, a virtual-hosted GET), and refuses
// each of them 403 tampered (a signature character, the key, a query
// parameter), signed with another method, or unsigned; it counts the
// unsigned request.
func TestGCSServerAcceptsGoogleURLs(t *testing.T) {
	acct := GCSTestAccount(t)
	s := StartGCSServer(t, "my-bucket", acct)
	const key = "dir/a b+c.txt"
	s.Put(key, []byte("hello"))
	s.Put("dir/sub/x.txt", []byte("x"))
	s.Put("other.txt", []byte("o"))
	urls := signWithGoogle(t, s, acct, key)

	if code, body := gcsSend(t, s, "GET", urls.Get, "127.0.0.1"); code != 200 || string(body) != "hello" {
		t.Errorf("GET: %d %q", code, body)
	}
	if code, _ := gcsSend(t, s, "HEAD", urls.Head, "127.0.0.1"); code != 200 {
		t.Errorf("HEAD: %d", code)
	}
	if code, body := gcsSend(t, s, "GET", urls.VirtualGet, "my-bucket.example.test"); code != 200 || string(body) != "hello" {
		t.Errorf("virtual-hosted GET: %d %q", code, body)
	}
	code, body := gcsSend(t, s, "GET", urls.List, "127.0.0.1")
	var l gcsListing
	if err := xml.Unmarshal(body, &l); code != 200 || err != nil {
		t.Fatalf("list: %d %v %q", code, err, body)
	}
	if len(l.Contents) != 1 || l.Contents[0].Key != key || l.Contents[0].Size != 5 ||
		len(l.CommonPrefixes) != 1 || l.CommonPrefixes[0].Prefix != "dir/sub/" || l.IsTruncated {
		t.Errorf("list: %+v", l)
	}

	refused := func(what, method, u, host string) {
		t.Helper()
		if code, _ := gcsSend(t, s, method, u, host); code != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", what, code)
		}
	}
	refused("tampered signature", "GET", TamperParam(t, urls.Get, "X-Goog-Signature"), "127.0.0.1")
	refused("another key", "GET", strings.Replace(urls.Get, "a%20b", "a%20c", 1), "127.0.0.1")
	refused("another prefix", "GET", strings.Replace(urls.List, "prefix=dir%2F", "prefix=", 1), "127.0.0.1")
	refused("GET's URL as DELETE", "DELETE", urls.Get, "127.0.0.1")
	refused("another host", "GET", urls.Get, "127.0.0.2")
	refused("virtual-hosted URL sent path style", "GET", urls.VirtualGet, "127.0.0.1")
	u, _ := url.Parse(urls.Get)
	u.RawQuery = ""
	refused("unsigned", "GET", u.String(), "127.0.0.1")
	if !s.Has(key) {
		t.Fatal("a refused request changed the bucket")
	}
	if code, _ := gcsSend(t, s, "DELETE", urls.Delete, "127.0.0.1"); code != http.StatusNoContent || s.Has(key) {
		t.Errorf("DELETE: %d, object kept: %v", code, s.Has(key))
	}
	if served, ref, unsigned := s.Counts(); served != 5 || ref != 7 || unsigned != 1 {
		t.Errorf("counts: served %d refused %d unsigned %d, want 5, 7, 1", served, ref, unsigned)
	}
}

// TestGCSServerAcceptsGooglePolicy: the tests' GCS server takes the POST
// policy form that Google's Node library signs (an eq and a
// content-length-range condition, fields Content-Type,
// success_action_status 201 and an x-ignore- one), posted path style to
// the bucket: it stores the file with its Content-Type and answers 201
// with the PostResponse document; it refuses (storing nothing) the form
// with its policy or signature tampered, with another Content-Type, with
// a field the policy does not name, or with a file over the range (400).
func TestGCSServerAcceptsGooglePolicy(t *testing.T) {
	acct := GCSTestAccount(t)
	s := StartGCSServer(t, "my-bucket", acct)
	const key = "dir/a b+c.txt"
	form := signWithGoogle(t, s, acct, key).Post.Fields
	post := func(file []byte, kv ...string) (int, []byte) {
		t.Helper()
		f := maps.Clone(form)
		for i := 0; i < len(kv); i += 2 {
			f[kv[i]] = kv[i+1]
		}
		var fields []string
		for _, n := range slices.Sorted(maps.Keys(f)) {
			fields = append(fields, n, f[n])
		}
		code, _, body := PostForm(t, s.URL+"/my-bucket/", fields, "cat.png", file)
		return code, body
	}
	png := []byte("\x89PNG\r\n\x1a\n")
	for _, c := range []struct {
		what   string
		file   []byte
		kv     []string
		status int
	}{
		{"a tampered policy", png, []string{"policy", TamperString(t, form["policy"])}, http.StatusForbidden},
		{"a tampered signature", png, []string{"x-goog-signature", TamperString(t, form["x-goog-signature"])}, http.StatusForbidden},
		{"another Content-Type", png, []string{"Content-Type", "image/svg+xml"}, http.StatusForbidden},
		{"a field the policy does not name", png, []string{"acl", "public-read"}, http.StatusForbidden},
		{"a file over the range", bytes.Repeat(png, 13), nil, http.StatusBadRequest},
	} {
		if code, body := post(c.file, c.kv...); code != c.status {
			t.Errorf("%s: %d %s, want %d", c.what, code, body, c.status)
		}
	}
	if s.Has(key) {
		t.Fatal("a refused form stored its file")
	}
	code, body := post(png)
	var r gcsPostResponse
	if err := xml.Unmarshal(body, &r); code != http.StatusCreated || err != nil || r.Key != key || r.Bucket != "my-bucket" {
		t.Fatalf("the form as signed: %d %s (%v), want 201 naming the object", code, body, err)
	}
	if data, typ, ok := s.Object(key); !ok || !bytes.Equal(data, png) || typ != "image/png" {
		t.Errorf("stored %q typed %q (%v), want the file typed image/png", data, typ, ok)
	}
	if served, refused, unsigned := s.Counts(); served != 1 || refused != 5 || unsigned != 0 {
		t.Errorf("counts: served %d refused %d unsigned %d, want 1, 5, 0", served, refused, unsigned)
	}
}

// TestGCSServerLists: pages of max-keys entries follow each other by
// their continuation tokens, folders counted once, nothing lost or
// doubled; a token no page served is refused; an expired signature is
// refused.
func TestGCSServerLists(t *testing.T) {
	acct := GCSTestAccount(t)
	s := StartGCSServer(t, "b", acct)
	want := map[string]bool{}
	for _, k := range []string{"p/a", "p/b/1", "p/b/2", "p/c", "p/d/1", "p/e", "q"} {
		s.Put(k, []byte(k))
	}
	for _, e := range []string{"p/a", "p/b/", "p/c", "p/d/", "p/e"} {
		want[e] = true
	}
	got := map[string]int{}
	pages := 0
	for token := ""; ; {
		q := map[string]string{"list-type": "2", "prefix": "p/", "delimiter": "/", "max-keys": "2"}
		if token != "" {
			q["continuation-token"] = token
		}
		rec := httptest.NewRecorder()
		s.list(rec, q)
		pages++
		var l gcsListing
		if err := xml.Unmarshal(rec.Body.Bytes(), &l); rec.Code != 200 || err != nil {
			t.Fatalf("page %d: %d %v", pages, rec.Code, err)
		}
		for _, c := range l.Contents {
			got[c.Key]++
		}
		for _, p := range l.CommonPrefixes {
			got[p.Prefix]++
		}
		if !l.IsTruncated {
			break
		}
		token = l.NextToken
	}
	if pages != 3 || len(got) != len(want) {
		t.Errorf("%d pages (want 3), entries %v", pages, got)
	}
	for e, n := range got {
		if !want[e] || n != 1 {
			t.Errorf("%s listed %d times", e, n)
		}
	}

	// a token no page served, well-formed or not, is refused as Cloud
	// Storage refuses a forged one
	for _, tok := range []string{base64.StdEncoding.EncodeToString([]byte("p/a")), "not base64!"} {
		rec := httptest.NewRecorder()
		s.list(rec, map[string]string{"list-type": "2", "prefix": "p/", "continuation-token": tok})
		var e gcsError
		if err := xml.Unmarshal(rec.Body.Bytes(), &e); rec.Code != http.StatusBadRequest || err != nil || e.Code != "InvalidArgument" {
			t.Errorf("token %q never issued: %d %s, want 400 InvalidArgument", tok, rec.Code, rec.Body)
		}
	}

	// what the signature says beyond itself: the scope, the lifetime
	signedAt := time.Now().UTC().Add(-time.Hour)
	q := map[string]string{
		"X-Goog-Date":       signedAt.Format("20060102T150405Z"),
		"X-Goog-Credential": acct.Email + "/" + signedAt.Format("20060102") + "/auto/storage/goog4_request",
		"X-Goog-Expires":    "7200",
	}
	if err := gcsverify.Valid(q, acct.Email, time.Now()); err != nil {
		t.Errorf("a live signature: %v", err)
	}
	q["X-Goog-Expires"] = "3599"
	if err := gcsverify.Valid(q, acct.Email, time.Now()); err == nil {
		t.Error("an expired signature is valid")
	}
	q["X-Goog-Expires"] = "7200"
	q["X-Goog-Credential"] = strings.Replace(q["X-Goog-Credential"], "/auto/", "/us/", 1)
	if err := gcsverify.Valid(q, acct.Email, time.Now()); err == nil {
		t.Error("another scope is valid")
	}
}
