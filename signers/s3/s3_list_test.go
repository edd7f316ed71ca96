package s3

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// listPage is a ListBucketResult of bucket and prefix holding n objects,
// as S3 writes one.
func listPage(bucket, prefix string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>%s</Name><Prefix>%s</Prefix><KeyCount>%d</KeyCount><MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter><IsTruncated>false</IsTruncated>`, bucket, prefix, n)
	for i := range n {
		fmt.Fprintf(&b, `<Contents><Key>%sfile-%04d.txt</Key><LastModified>2026-01-02T03:04:05.000Z</LastModified><ETag>&#34;0123456789abcdef0123456789abcdef&#34;</ETag><Size>%d</Size><StorageClass>STANDARD</StorageClass></Contents>`, prefix, i, 1000+i)
	}
	b.WriteString(`</ListBucketResult>`)
	return b.String()
}

// listServer is an S3 endpoint that answers every request with answer.
func listServer(t testing.TB, answer func(w http.ResponseWriter, r *http.Request)) *S3 {
	srv := httptest.NewServer(http.HandlerFunc(answer))
	t.Cleanup(srv.Close)
	s := &S3{Bucket: "media", Region: "us-east-1", Endpoint: srv.URL, PathStyle: true,
		AccessKeyID: "AKID", SecretAccessKey: "secret"}
	if err := s.Provision(caddy.Context{}); err != nil {
		t.Fatal(err)
	}
	return s
}

// BenchmarkS3List lists a page of 1,000 objects from a local server: the
// request, its signature and the page's decoding.
func BenchmarkS3List(b *testing.B) {
	page := []byte(listPage("media", "docs/", 1000))
	s := listServer(b, func(w http.ResponseWriter, r *http.Request) { w.Write(page) })
	b.ReportAllocs()
	for b.Loop() {
		l, err := s.List(context.Background(), "docs/", "")
		if err != nil || len(l.Objects) != 1000 {
			b.Fatal(err)
		}
	}
}
