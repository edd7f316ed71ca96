package s3

import (
	"context"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/store"
)

// List implements Store with one ListObjectsV2 request, bounded by
// api_timeout. The SDK sends it (signature, retries, errors), but a page
// (a 2xx answer) is read by the shared decoder of ListObjectsV2 pages: the SDK's
// generic XML deserializer cost most of a listing's CPU.
func (s *S3) List(ctx context.Context, prefix, token string) (*signers.Listing, error) {
	in := &s3.ListObjectsV2Input{
		Bucket:    aws.String(s.Bucket),
		Delimiter: aws.String("/"),
		MaxKeys:   aws.Int32(signers.ListPageSize),
	}
	if prefix != "" {
		in.Prefix = aws.String(prefix)
	}
	if token != "" {
		in.ContinuationToken = aws.String(token)
	}
	ctx, cancel := s.apiContext(ctx)
	defer cancel()
	page := &pageReader{bucket: s.Bucket, prefix: prefix}
	if _, err := s.api.ListObjectsV2(ctx, in, page.use); err != nil {
		return nil, storeError(err)
	}
	// ParseListObjectsV2 checks that the page is a ListBucketResult of the
	// bucket and prefix: the SDK read any 200 body, an HTML page, JSON or
	// nothing, as an empty listing.
	return page.listing, page.err
}

// pageReader takes the place of the SDK's deserializer of one
// ListObjectsV2 call: it reads a page with store.ParseListObjectsV2, and
// hands every other answer to the SDK's, which makes the API errors
// storeError classifies. Each attempt of the call sets its result.
type pageReader struct {
	bucket, prefix string
	sdk            middleware.DeserializeMiddleware
	listing        *signers.Listing
	err            error
}

// use is the call's option that puts r in place.
func (r *pageReader) use(o *s3.Options) {
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		var err error
		r.sdk, err = st.Deserialize.Swap(r.ID(), r)
		return err
	})
}

func (r *pageReader) ID() string { return "OperationDeserializer" }

func (r *pageReader) HandleDeserialize(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (
	middleware.DeserializeOutput, middleware.Metadata, error,
) {
	out, md, err := next.HandleDeserialize(ctx, in)
	resp, ok := out.RawResponse.(*smithyhttp.Response)
	if err != nil || !ok || resp.StatusCode/100 != 2 {
		return r.sdk.HandleDeserialize(ctx, in, middleware.DeserializeHandlerFunc(
			func(context.Context, middleware.DeserializeInput) (middleware.DeserializeOutput, middleware.Metadata, error) {
				return out, md, err
			}))
	}
	r.listing, r.err = store.ParseListObjectsV2(resp.Body, r.bucket, r.prefix)
	resp.Body.Close()
	out.Result = &s3.ListObjectsV2Output{} // what the SDK's caller expects; the page is r's
	return out, md, nil
}

// Exists implements Store with HeadObject, bounded by api_timeout:
// "exists" is a 200 with an ETag, "does not" a 404.
func (s *S3) Exists(ctx context.Context, key string) (bool, error) {
	ctx, cancel := s.apiContext(ctx)
	defer cancel()
	out, err := s.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(key)})
	if err != nil {
		if se := storeError(err); se.Status != http.StatusNotFound {
			return false, se
		}
		return false, nil
	}
	if aws.ToString(out.ETag) == "" {
		return false, store.NoETag("HeadObject")
	}
	return true, nil
}
