package s3

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/awscreds"
	"github.com/caddyserver/caddy/v2"
)

// s3APIError is an API error as the SDK returns it, with the HTTP status.
func s3APIError(status int, code string) error {
	return &smithy.OperationError{ServiceID: "S3", OperationName: "HeadObject", Err: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
		Err:      &smithy.GenericAPIError{Code: code, Message: "m"},
	}}
}

// TestStoreErrorStatus: what S3 says of a multipart upload keeps its
// meaning; credentials that cannot be had are 503, the store unreachable
// 502 (the refusals: TestRefusalS3).
func TestStoreErrorStatus(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{fmt.Errorf("get credentials: %w", signers.ErrCredentials), http.StatusServiceUnavailable},
		{s3APIError(404, "NoSuchUpload"), http.StatusNotFound},
		{s3APIError(404, "NoSuchKey"), http.StatusNotFound},
		{s3APIError(404, "NotFound"), http.StatusNotFound},
		{s3APIError(400, "InvalidPart"), http.StatusBadRequest},
		{s3APIError(400, "InvalidPartOrder"), http.StatusBadRequest},
		{s3APIError(400, "EntityTooSmall"), http.StatusBadRequest},
		{fmt.Errorf("dial: %w", context.DeadlineExceeded), http.StatusBadGateway},
		{errors.New("connection refused"), http.StatusBadGateway},
	} {
		se := storeError(c.err)
		if se.Status != c.want {
			t.Errorf("%v: status %d, want %d", c.err, se.Status, c.want)
		}
		if !errors.Is(se, c.err) {
			t.Errorf("%v: the signers.StoreError does not wrap it", c.err)
		}
	}
}

func TestS3APIEndpoint(t *testing.T) {
	for _, c := range []struct {
		endpoint, api, wantErr string
	}{
		{"http://127.0.0.1:9000", "", ""},
		{"https://s3.example.com", "http://10.0.0.5:9000", ""},
		{"https://s3.example.com", "ftp://x", `api_endpoint "ftp://x" is not an http(s) URL`},
		{"https://s3.example.com", "http://h/p", `must be scheme://host[:port] only`},
		{"https://s3.example.com?", "", `endpoint "https://s3.example.com?" must be scheme://host[:port] only`},
	} {
		s := &S3{Bucket: "bucket1", Region: "us-east-1", Endpoint: c.endpoint, APIEndpoint: c.api,
			Config: awscreds.Config{AccessKeyID: "AKID", SecretAccessKey: "secret"}, PathStyle: true}
		err := s.Provision(caddy.Context{})
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%s/%s: %v", c.endpoint, c.api, err)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%s/%s: error %v, want %q", c.endpoint, c.api, err, c.wantErr)
		case err == nil && s.api == nil:
			t.Errorf("%s/%s: no API client", c.endpoint, c.api)
		}
	}
}
