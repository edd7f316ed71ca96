package s3

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/credcache"
	"github.com/caddy-presign/presign/signers/internal/endpoint"
	"github.com/caddy-presign/presign/signers/internal/store"
)

// provisionAPI builds the client of the S3 API calls Caddy makes itself
// (multipart uploads, listings, existence checks). It uses the profile's
// credential cache, so that the calls and the presigned URLs share one set
// of credentials and one truth about their expiry, and api_endpoint when
// Caddy must reach the store at another address than browsers do.
func (s *S3) provisionAPI() error {
	if err := store.FillAPITimeout(&s.APITimeout); err != nil {
		return err
	}
	o := s3.Options{
		Region:       s.Region,
		UsePathStyle: s.PathStyle,
		Credentials:  credCacheProvider{s.creds},
		HTTPClient:   &http.Client{Transport: http.DefaultTransport},
	}
	ep := s.APIEndpoint
	if ep == "" {
		ep = s.Endpoint
	}
	if ep != "" {
		if _, _, err := endpoint.Parse("api_endpoint", ep, s3ExampleEndpoint, false); err != nil {
			return err
		}
		o.BaseEndpoint = aws.String(ep)
	}
	s.api = s3.New(o)
	return nil
}

// apiContext bounds one S3 API call, retries included, by api_timeout.
func (s *S3) apiContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, time.Duration(s.APITimeout))
}

// credCacheProvider lets the SDK's API client take its credentials from
// the profile's credential cache.
type credCacheProvider struct {
	c *credcache.Cache[aws.Credentials]
}

func (p credCacheProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	return p.c.Get(ctx)
}

// configFault are the codes of 400 answers that blame the profile (its
// credentials, region or bucket), not the request: they stay 502.
var configFault = map[string]bool{
	"AuthorizationHeaderMalformed": true, "AuthorizationQueryParametersError": true,
	"IncompleteSignature": true, "InvalidBucketName": true, "InvalidToken": true,
	"ExpiredToken": true, "InvalidRegion": true, "IllegalLocationConstraintException": true,
}

// s3NamesRequest is S3's table for refusal: a 4xx names the request when
// its code is KeyTooLongError, InvalidArgument (a continuation token S3
// never issued among others) or InvalidObjectName, or when it is a 400
// whose code is not one of configFault's (a key the store cannot hold,
// e.g. a 300-byte segment on versitygw).
func s3NamesRequest(status int, code string) bool {
	switch code {
	case "KeyTooLongError", "InvalidArgument", "InvalidObjectName":
		return true
	}
	return status == http.StatusBadRequest && !configFault[code]
}

// storeError classifies err, the error of an S3 API call: credentials that
// cannot be had are 503; what the store says of the multipart upload keeps
// its meaning (a missing upload or object 404, a bad part 400); any other
// answer of the store is classified by refusal with S3's table
// (s3NamesRequest); the store unreachable or slow is 502. The error kept
// holds no address (endpoint.Scrub): the SDK's quotes the request's URL and
// a failed dial or lookup its addresses.
func storeError(err error) *signers.StoreError {
	err = endpoint.Scrub(err)
	if errors.Is(err, signers.ErrCredentials) {
		return &signers.StoreError{Status: http.StatusServiceUnavailable, Reason: "credentials unavailable", Err: err}
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchUpload":
			return &signers.StoreError{Status: http.StatusNotFound, Reason: "no such upload", Err: err}
		case "NoSuchKey", "NotFound":
			return &signers.StoreError{Status: http.StatusNotFound, Reason: "no such object", Err: err}
		case "InvalidPart", "InvalidPartOrder":
			return &signers.StoreError{Status: http.StatusBadRequest, Reason: "invalid part", Err: err}
		case "EntityTooSmall":
			return &signers.StoreError{Status: http.StatusBadRequest, Reason: "part too small", Err: err}
		}
		var status int
		var re *smithyhttp.ResponseError
		if errors.As(err, &re) {
			status = re.HTTPStatusCode()
		}
		return store.Refusal(status, ae.ErrorCode(), s3NamesRequest, err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &signers.StoreError{Status: http.StatusBadGateway, Reason: "the store did not answer in time", Err: err}
	}
	return &signers.StoreError{Status: http.StatusBadGateway, Reason: "the store is unreachable", Err: err}
}
