package s3

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-presign/presign/internal/sigv4verify"
	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/awscreds"
	"github.com/caddy-presign/presign/signers/signerstest"
)

const (
	suiteAKID   = "AKIDSUITE"
	suiteSecret = "suite/secret+key"
)

// suiteS3 provisions a path-style profile of bucket "media" at store,
// with the credentials of provider (nil: the suite's static keys).
func suiteS3(t *testing.T, store string, provider aws.CredentialsProvider) signers.Signer {
	t.Helper()
	s := &S3{
		Bucket: "media", Region: "eu-central-1", Endpoint: store, PathStyle: true, APITimeout: caddy.Duration(3 * time.Second),
		CredentialsTimeout: caddy.Duration(time.Second), Config: awscreds.Config{AccessKeyID: suiteAKID, SecretAccessKey: suiteSecret},
	}
	if provider != nil {
		s.AccessKeyID, s.SecretAccessKey, s.CredentialsProvider = "", "", provider
	}
	if err := s.Provision(caddy.Context{}); err != nil {
		t.Fatal(err)
	}
	return s
}

var suiteKeys = sigv4verify.Keys{suiteAKID: suiteSecret}

// TestConformance runs the suite of every kind against S3, with the
// independent SigV4 verifier and a recording S3 API.
func TestConformance(t *testing.T) {
	// every call of Caddy's to the store signed in its Authorization
	// header with the suite's keys, for its method and path
	authorize := func(r *http.Request) error {
		_, err := suiteKeys.Request(r, time.Now())
		return err
	}
	store := signerstest.ListObjectsV2("media", authorize)
	store.ListRefusals = []signerstest.RefusalCase{
		{Status: 400, Code: "InvalidArgument", Want: 400}, // a continuation token S3 never issued
		{Status: 400, Code: "KeyTooLongError", Want: 400},
		{Status: 400, Code: "InvalidObjectName", Want: 400},
		{Status: 400, Code: "InvalidURI", Want: 400},
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
		{Status: 200, Want: 502}, // an HTML page: no listing
	}
	store.ExistsRefusals = []signerstest.RefusalCase{
		{Status: 200, Want: 200},
		{Status: 200, Want: 502}, // no ETag: a proxy's page
		{Status: 404, Want: 404},
		{Status: 400, Want: 400}, // a HEAD's 400 (no body): the key
		{Status: 403, Want: 502},
		{Status: 500, Want: 502},
	}
	multipart := signerstest.S3Multipart("media", authorize)
	multipart.Refusals = []signerstest.RefusalCase{
		{Status: 404, Code: "NoSuchUpload", Want: 404}, // aborted, completed or never started
		{Status: 400, Code: "InvalidPart", Want: 400},
		{Status: 400, Code: "InvalidPartOrder", Want: 400},
		{Status: 400, Code: "EntityTooSmall", Want: 400},
		{Status: 400, Code: "InvalidArgument", Want: 400},
		{Status: 400, Code: "ExpiredToken", Want: 502},
		{Status: 403, Code: "AccessDenied", Want: 502},
		{Status: 404, Code: "NoSuchBucket", Want: 502},
		{Status: 500, Code: "InternalError", Want: 502},
	}
	signerstest.Run(t, signerstest.Kind{
		Name: "s3",
		New:  func(t *testing.T, store string) signers.Signer { return suiteS3(t, store, nil) },
		Verify: func(r signers.Request, s *signers.Signed, now time.Time) error {
			if r.Method == http.MethodPost {
				if s.URL != "http://127.0.0.1:9/media/" {
					return fmt.Errorf("POST form to %s, not the bucket", s.URL)
				}
				return suiteKeys.Form(s.Fields, now)
			}
			_, err := suiteKeys.URL(r.Method, s.URL, s.Headers, now)
			return err
		},
		Expiring: func(t *testing.T, expiry time.Time) signers.Signer {
			return suiteS3(t, "http://127.0.0.1:9", aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{
					AccessKeyID: suiteAKID, SecretAccessKey: suiteSecret, SessionToken: "session",
					CanExpire: true, Expires: expiry,
				}, nil
			}))
		},
		NoCredentials: func(t *testing.T, store string) signers.Signer {
			return suiteS3(t, store, aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{}, errors.New("the provider is down")
			}))
		},
		Store:     store,
		Multipart: multipart,
	})
}
