package signers

import (
	"context"
	"time"
)

// Multipart is a profile that runs S3 multipart uploads for rules with the
// uppy option. Every error of its API calls is a *StoreError, which says
// how to answer.
type Multipart interface {
	// CreateMultipart starts an upload of key with the object's
	// Content-Type and user metadata (x-amz-meta-*), and returns its
	// uploadId.
	CreateMultipart(ctx context.Context, key, contentType string, meta map[string]string) (string, error)

	// SignParts presigns an UploadPart PUT of r.Key for each of the part
	// numbers (1 to 10000), with r's signing time and lifetime, and
	// returns the URLs in the same order and when they expire. Its error
	// wraps ErrCredentials when credentials cannot be had.
	SignParts(ctx context.Context, r *Request, uploadID string, parts []int32) ([]string, time.Time, error)

	// ListParts returns every part uploaded so far, all pages, in
	// ascending part number.
	ListParts(ctx context.Context, key, uploadID string) ([]Part, error)

	// CompleteMultipart assembles the parts into the object and returns
	// its URL under the profile's origin (without a signature).
	CompleteMultipart(ctx context.Context, key, uploadID string, parts []Part) (string, error)

	// AbortMultipart aborts the upload and discards its parts.
	AbortMultipart(ctx context.Context, key, uploadID string) error

	// ObjectSize asks the store (uncached) for the size of the object key,
	// as it is now.
	ObjectSize(ctx context.Context, key string) (int64, error)

	// DeleteObject deletes the object key.
	DeleteObject(ctx context.Context, key string) error
}

// Part is one part of a multipart upload.
type Part struct {
	PartNumber int32
	Size       int64 // ListParts only
	ETag       string
}
