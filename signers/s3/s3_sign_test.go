package s3

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/awscreds"
)

// TestS3SignsTheRequest: what the handler asks of an AWS profile with
// static keys is signed as asked: a GET under the bucket's virtual-hosted
// origin for its region, dated the request's SignTime (with stable, the
// window's start), and a PUT with a signature.
func TestS3SignsTheRequest(t *testing.T) {
	s := &S3{Bucket: "bucket1", Region: "eu-central-1", Config: awscreds.Config{
		AccessKeyID:     "AKIDEXAMPLE",
		SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
	}}
	if err := s.Provision(caddy.Context{Context: context.Background()}); err != nil {
		t.Fatal(err)
	}
	start := time.Unix(1767225600, 0).UTC() // a window's start: 2026-01-01T00:00:00Z
	for _, signTime := range []time.Time{start, start.Add(time.Minute)} {
		sg, err := s.Sign(context.Background(), signers.Request{Method: "GET", Key: "dl/x", SignTime: signTime, Expires: 10 * time.Minute, Options: &signers.Options{}})
		if err != nil {
			t.Fatal(err)
		}
		if want := "https://bucket1.s3.eu-central-1.amazonaws.com/dl/x?"; !strings.HasPrefix(sg.URL, want) {
			t.Errorf("GET dl/x on AWS: %s, want %s...", sg.URL, want)
		}
		q, _ := url.Parse(sg.URL)
		if d := q.Query().Get("X-Amz-Date"); d != signTime.Format("20060102T150405Z") {
			t.Errorf("X-Amz-Date %s, want the request's SignTime %s", d, signTime.Format("20060102T150405Z"))
		}
	}
	sg, err := s.Sign(context.Background(), signers.Request{Method: "PUT", Key: "up/x", SignTime: start, Expires: time.Hour, Options: &signers.Options{}})
	if err != nil || !strings.Contains(sg.URL, "X-Amz-Signature=") {
		t.Errorf("PUT up/x: %v %v, want a signed URL", sg, err)
	}
}
