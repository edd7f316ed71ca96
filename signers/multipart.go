package signers

import (
	"context"
	"time"
)

// Multipart is a profile that runs multipart uploads (an upload id, parts
// numbered from 1, each PUT to its own URL, then one completion) for rules
// with the uppy option. Every error of its API calls is a *StoreError,
// which says how to answer.
type Multipart interface {
	// MultipartLimits returns the store's rules for its uploads, which
	// requests are checked against before the store is asked.
	MultipartLimits() MultipartLimits

	// CreateMultipart starts an upload of key with the object's
	// Content-Type and user metadata (kept as MultipartLimits allows), and
	// returns its upload id.
	CreateMultipart(ctx context.Context, key, contentType string, meta map[string]string) (string, error)

	// SignParts presigns a PUT of one part of r.Key for each of the part
	// numbers (1 to MultipartLimits' MaxPartNumber), with r's signing time
	// and lifetime, and returns the URLs in the same order and when they
	// expire. Its error wraps ErrCredentials when credentials cannot be
	// had.
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

// MultipartLimits are a store's rules for its multipart uploads. Every
// field is set.
type MultipartLimits struct {
	// MaxPartNumber is the highest part number. Parts are numbered from
	// 1, so it is also the most parts an upload has.
	MaxPartNumber int32

	// ValidUploadID tells whether id has the syntax of the store's upload
	// ids; a request naming any other is refused before the store is
	// asked.
	ValidUploadID func(id string) bool

	// MetadataName returns the name the store keeps a user metadata entry
	// under, and false when it cannot keep one under name.
	MetadataName func(name string) (string, bool)

	// ValidMetadataValue tells whether the store can keep v as a user
	// metadata value.
	ValidMetadataValue func(v string) bool

	// MaxMetadataSize is the most bytes of user metadata, names and values
	// summed, the store keeps with an object.
	MaxMetadataSize int
}

// Part is one part of a multipart upload.
type Part struct {
	PartNumber int32
	Size       int64 // ListParts only
	ETag       string
}
