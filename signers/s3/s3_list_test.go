package s3

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/awscreds"
	"github.com/caddy-presign/presign/signers/internal/store/pagetest"
)

// listServer is an S3 endpoint that answers every request with answer.
func listServer(t testing.TB, answer func(w http.ResponseWriter, r *http.Request)) *S3 {
	srv := httptest.NewServer(http.HandlerFunc(answer))
	t.Cleanup(srv.Close)
	s := &S3{
		Bucket: "media", Region: "us-east-1", Endpoint: srv.URL, PathStyle: true,
		Config: awscreds.Config{AccessKeyID: "AKID", SecretAccessKey: "secret"},
	}
	if err := s.Provision(caddy.Context{}); err != nil {
		t.Fatal(err)
	}
	return s
}

// BenchmarkS3List lists a page of 1,000 objects from a local server: the
// request, its signature and the page's decoding.
func BenchmarkS3List(b *testing.B) {
	page := []byte(pagetest.ListObjectsV2("media", "docs/", 1000))
	s := listServer(b, func(w http.ResponseWriter, r *http.Request) { w.Write(page) })
	b.ReportAllocs()
	for b.Loop() {
		l, err := s.List(context.Background(), "docs/", "")
		if err != nil || len(l.Objects) != 1000 {
			b.Fatal(err)
		}
	}
}

// TestS3List: List asks for one page of the prefix from the token, signed,
// and reads it; a page that is no listing of the bucket and prefix, or
// holds a key outside it, is a 502; the store's errors keep their
// classification (a refused continuation token 400, a missing bucket 502).
func TestS3List(t *testing.T) {
	var asked []string
	answer := func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(pagetest.ListObjectsV2("media", "docs/", 2)))
	}
	s := listServer(t, func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.Method+" "+r.URL.Path+" "+r.URL.Query().Encode())
		if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKID/") {
			t.Errorf("unsigned: %q", r.Header.Get("Authorization"))
		}
		answer(w, r)
	})
	l, err := s.List(context.Background(), "docs/", "tok/+=")
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Objects) != 2 || l.Objects[1].Key != "docs/file-0001.txt" || l.Objects[1].Size != 1001 ||
		l.Objects[1].ModTime.Format(time.RFC3339) != "2026-01-02T03:04:05Z" || l.Next != "" {
		t.Errorf("listing %+v", l)
	}
	if want := "GET /media continuation-token=tok%2F%2B%3D&delimiter=%2F&list-type=2&max-keys=1000&prefix=docs%2F"; len(asked) != 1 || asked[0] != want {
		t.Errorf("asked %q, want %q", asked, want)
	}
	for _, c := range []struct {
		what   string
		status int
		body   string
		want   int
		reason string
	}{
		{"another bucket", 200, pagetest.ListObjectsV2("other", "docs/", 1), 502, "the store answered something other than a listing"},
		{"another prefix", 200, pagetest.ListObjectsV2("media", "", 1), 502, "the store answered something other than a listing"},
		{"a key outside", 200, strings.Replace(pagetest.ListObjectsV2("media", "docs/", 1), "<Key>docs/", "<Key>secret/", 1), 502, "the store answered a listing that cannot be shown"},
		{"an HTML page", 200, "<!DOCTYPE html><html><body>hi</body></html>", 502, "the store answered something other than a listing"},
		{"nothing", 200, "", 502, "the store answered a listing that cannot be read"},
		{"a cut page", 200, pagetest.ListObjectsV2("media", "docs/", 2)[:500], 502, "the store answered a listing that cannot be read"},
		{"a refused token", 400, `<Error><Code>InvalidArgument</Code><Message>The continuation token provided is incorrect</Message></Error>`, 400, "the store refused the request: InvalidArgument"},
		{"no bucket", 404, `<Error><Code>NoSuchBucket</Code><Message>m</Message></Error>`, 502, "the store refused: NoSuchBucket"},
		{"denied", 403, `<Error><Code>AccessDenied</Code><Message>m</Message></Error>`, 502, "the store refused: AccessDenied"},
	} {
		answer = func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(c.status)
			w.Write([]byte(c.body))
		}
		_, err := s.List(context.Background(), "docs/", "")
		var se *signers.StoreError
		if !errors.As(err, &se) || se.Status != c.want || se.Reason != c.reason {
			t.Errorf("%s: %v, want %d %q", c.what, err, c.want, c.reason)
		}
	}
	// an outage is retried as the SDK retries, then is a 502
	asked = nil
	answer = func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }
	_, err = s.List(context.Background(), "docs/", "")
	var se *signers.StoreError
	if !errors.As(err, &se) || se.Status != 502 || len(asked) < 2 {
		t.Errorf("an outage: %v after %d requests, want a 502 after retries", err, len(asked))
	}
}
