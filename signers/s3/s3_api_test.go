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
	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-presign/presign/signers/internal/awscreds"
)

// s3APIError is an API error as the SDK returns it, with the HTTP status.
func s3APIError(status int, code string) error {
	return &smithy.OperationError{ServiceID: "S3", OperationName: "HeadObject", Err: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
		Err:      &smithy.GenericAPIError{Code: code, Message: "m"},
	}}
}

// TestStoreErrorStatus: what S3 says of an object that ObjectSize asks
// for keeps its meaning (404), and a store that does not answer in time is
// 502. (The multipart calls' refusals, missing credentials and an
// unreachable store: the conformance suite, TestConformance/MultipartCalls.)
func TestStoreErrorStatus(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{s3APIError(404, "NoSuchKey"), http.StatusNotFound},
		{s3APIError(404, "NotFound"), http.StatusNotFound},
		{fmt.Errorf("dial: %w", context.DeadlineExceeded), http.StatusBadGateway},
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
		s := &S3{
			Bucket: "bucket1", Region: "us-east-1", Endpoint: c.endpoint, APIEndpoint: c.api,
			Config: awscreds.Config{AccessKeyID: "AKID", SecretAccessKey: "secret"}, PathStyle: true,
		}
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
