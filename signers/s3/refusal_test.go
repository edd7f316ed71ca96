package s3

import (
	"context"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-presign/presign/signers/signerstest"
)

// TestRefusalS3: S3's answers through the SDK's errors (storeError) and
// through a store that answers HeadObject and ListObjectsV2.
func TestRefusalS3(t *testing.T) {
	for _, c := range []signerstest.RefusalCase{
		{Status: 400, Code: "InvalidArgument", Want: 400}, // a continuation token S3 never issued
		{Status: 400, Code: "KeyTooLongError", Want: 400},
		{Status: 400, Code: "InvalidObjectName", Want: 400},
		{Status: 400, Code: "InvalidURI", Want: 400},
		{Status: 400, Code: "BadRequest", Want: 400}, // a HEAD's 400 (no body)
		{Status: 400, Code: "AuthorizationHeaderMalformed", Want: 502},
		{Status: 400, Code: "AuthorizationQueryParametersError", Want: 502},
		{Status: 400, Code: "InvalidBucketName", Want: 502},
		{Status: 400, Code: "ExpiredToken", Want: 502},
		{Status: 400, Code: "InvalidRegion", Want: 502},
		{Status: 401, Code: "Unauthorized", Want: 502},
		{Status: 403, Code: "AccessDenied", Want: 502},
		{Status: 403, Code: "InvalidArgument", Want: 502}, // Caddy's credentials refused, whatever the code
		{Status: 404, Code: "NoSuchBucket", Want: 502},
		{Status: 409, Code: "OperationAborted", Want: 502},
		{Status: 500, Code: "InternalError", Want: 502},
		{Status: 503, Code: "SlowDown", Want: 502},
	} {
		se := storeError(s3APIError(c.Status, c.Code))
		signerstest.CheckClassified(t, "storeError", &c, false, se)
	}

	for _, c := range []signerstest.RefusalCase{
		{Status: 200, Want: 200},
		{Status: 200, Want: 502}, // no ETag: a proxy's page
		{Status: 404, Want: 404},
		{Status: 400, Want: 400},
		{Status: 403, Want: 502},
	} {
		srv := signerstest.StoreAnswer(t, false, &c)
		s := &S3{Bucket: "bucket1", Region: "us-east-1", Endpoint: srv.URL, AccessKeyID: "AKID", SecretAccessKey: "secret", PathStyle: true}
		if err := s.Provision(caddy.Context{}); err != nil {
			t.Fatal(err)
		}
		ok, err := s.Exists(context.Background(), "k")
		signerstest.CheckClassified(t, "HeadObject", &c, ok, err)
	}
	c := signerstest.RefusalCase{Status: 400, Code: "InvalidArgument", Want: 400}
	srv := signerstest.StoreAnswer(t, false, &c)
	s := &S3{Bucket: "bucket1", Region: "us-east-1", Endpoint: srv.URL, AccessKeyID: "AKID", SecretAccessKey: "secret", PathStyle: true}
	if err := s.Provision(caddy.Context{}); err != nil {
		t.Fatal(err)
	}
	_, err := s.List(context.Background(), "docs/", "forged")
	signerstest.CheckClassified(t, "ListObjectsV2", &c, false, err)
}
