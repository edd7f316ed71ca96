package gcs

import (
	"context"
	"testing"

	"github.com/caddy-presign/presign/signers/signerstest"
)

// TestRefusalGCS: Cloud Storage's answers to List (an XML Error body) and
// Exists (a HEAD: the status alone).
func TestRefusalGCS(t *testing.T) {
	for _, c := range []signerstest.RefusalCase{
		{Status: 400, Code: "InvalidArgument", Want: 400}, // a continuation token the store never issued
		{Status: 400, Code: "InvalidObjectName", Want: 400},
		{Status: 400, Code: "KeyTooLong", Want: 400},
		{Status: 400, Code: "InvalidURI", Want: 400},
		{Status: 400, Code: "ExpiredToken", Want: 502},
		{Status: 400, Code: "InvalidBucketName", Want: 502},
		{Status: 400, Code: "UserProjectMissing", Want: 502},
		{Status: 400, Code: "", Want: 502}, // no store's error: a proxy's
		{Status: 400, Code: "Invalid\nArgument", Want: 502},
		{Status: 401, Code: "AuthenticationRequired", Want: 502},
		{Status: 403, Code: "SignatureDoesNotMatch", Want: 502},
		{Status: 403, Code: "InvalidArgument", Want: 502},
		{Status: 404, Code: "NoSuchBucket", Want: 502},
		{Status: 429, Code: "SlowDown", Want: 502},
		{Status: 500, Code: "InternalError", Want: 502},
		{Status: 503, Code: "ServiceUnavailable", Want: 502},
		{Status: 200, Want: 502}, // an HTML page: no listing
	} {
		srv := signerstest.StoreAnswer(t, false, &c)
		g := newTestGCS(t, &GCS{Bucket: "my-bucket", Endpoint: srv.URL})
		_, err := g.List(context.Background(), "docs/", "forged")
		signerstest.CheckClassified(t, "List", &c, false, err)
	}
	for _, c := range []signerstest.RefusalCase{
		{Status: 200, Want: 200},
		{Status: 200, Want: 502}, // no ETag
		{Status: 404, Want: 404},
		{Status: 400, Want: 502}, // a HEAD's 400 names no code
		{Status: 403, Want: 502},
		{Status: 500, Want: 502},
	} {
		srv := signerstest.StoreAnswer(t, false, &c)
		g := newTestGCS(t, &GCS{Bucket: "my-bucket", Endpoint: srv.URL})
		ok, err := g.Exists(context.Background(), "k")
		signerstest.CheckClassified(t, "HEAD", &c, ok, err)
	}
}
