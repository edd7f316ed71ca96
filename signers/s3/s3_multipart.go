package s3

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/escape"
)

// S3's limits of multipart uploads.
const (
	maxPartNumber   = 10000
	maxUploadID     = 1024
	maxMetadataSize = 2048 // x-amz-meta-* names and values summed
)

// MultipartLimits implements Multipart with S3's limits, which
// S3-compatible stores share.
func (s *S3) MultipartLimits() signers.MultipartLimits {
	return signers.MultipartLimits{
		MaxPartNumber:      maxPartNumber,
		ValidUploadID:      validUploadID,
		MetadataName:       metadataName,
		ValidMetadataValue: printableASCII,
		MaxMetadataSize:    maxMetadataSize,
	}
}

// validUploadID accepts the upload IDs of S3 and S3-compatible stores:
// 1 to 1024 bytes of letters, digits and ._~+=-.
func validUploadID(id string) bool {
	if id == "" || len(id) > maxUploadID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("._~+=-", c) >= 0) {
			return false
		}
	}
	return true
}

// metadataName is the x-amz-meta-* name of name: lower-cased, one or more
// letters, digits, '-' and '_'.
func metadataName(name string) (string, bool) {
	name = strings.ToLower(name)
	if name == "" {
		return "", false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return "", false
		}
	}
	return name, true
}

// printableASCII tells whether s is printable ASCII, as a header value
// of x-amz-meta-* is.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// CreateMultipart implements Multipart.
func (s *S3) CreateMultipart(ctx context.Context, key, contentType string, meta map[string]string) (string, error) {
	ctx, cancel := s.apiContext(ctx)
	defer cancel()
	out, err := s.api.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:      aws.String(s.Bucket),
		Key:         aws.String(key),
		ContentType: aws.String(contentType),
		Metadata:    meta,
	})
	if err != nil {
		return "", storeError(err)
	}
	if out.UploadId == nil || *out.UploadId == "" {
		return "", junk("an upload", errors.New("CreateMultipartUpload answered without an upload id"))
	}
	return *out.UploadId, nil
}

// SignParts implements Multipart. The URLs are signed directly, not
// through the URL cache: each is asked for once.
func (s *S3) SignParts(ctx context.Context, r *signers.Request, uploadID string, parts []int32) ([]string, time.Time, error) {
	creds, expires, expiresAt, err := s.credsFor(ctx, r)
	if err != nil {
		return nil, time.Time{}, err
	}
	in := s.v4Input(http.MethodPut, r.Key, creds, r.SignTime, int64(expires/time.Second))
	q := [2]escape.QueryParam{{Name: "partNumber", Value: ""}, {Name: "uploadId", Value: uploadID}}
	in.Query = q[:]
	urls := make([]string, len(parts))
	for i, n := range parts {
		q[0].Value = strconv.Itoa(int(n))
		if urls[i], err = presignV4(s.keys, &in); err != nil {
			return nil, time.Time{}, fmt.Errorf("presigning UploadPart: %v", err)
		}
	}
	return urls, expiresAt, nil
}

// ListParts implements Multipart. Every page must be of the upload, its
// parts ascending from the previous page's, and a truncated one must name
// a new marker: anything else is not the store's listing of the upload
// (a proxy's page, a cut answer), and reading it as one would complete
// the upload with fewer parts than were sent.
func (s *S3) ListParts(ctx context.Context, key, uploadID string) ([]signers.Part, error) {
	ctx, cancel := s.apiContext(ctx)
	defer cancel()
	in := &s3.ListPartsInput{Bucket: aws.String(s.Bucket), Key: aws.String(key), UploadId: aws.String(uploadID)}
	var parts []signers.Part
	for {
		out, err := s.api.ListParts(ctx, in)
		if err != nil {
			return nil, storeError(err)
		}
		if aws.ToString(out.UploadId) != uploadID {
			return nil, junk("the upload's parts", fmt.Errorf("ListParts answered for upload %q", aws.ToString(out.UploadId)))
		}
		for _, pt := range out.Parts {
			n := aws.ToInt32(pt.PartNumber)
			if len(parts) > 0 && n <= parts[len(parts)-1].PartNumber {
				return nil, junk("the upload's parts", fmt.Errorf("ListParts answered part %d after part %d", n, parts[len(parts)-1].PartNumber))
			}
			parts = append(parts, signers.Part{PartNumber: n, Size: aws.ToInt64(pt.Size), ETag: aws.ToString(pt.ETag)})
		}
		if !aws.ToBool(out.IsTruncated) {
			return parts, nil
		}
		if next := aws.ToString(out.NextPartNumberMarker); next == "" || next == aws.ToString(in.PartNumberMarker) {
			return nil, junk("the upload's parts", fmt.Errorf("ListParts answered a truncated page with the next marker %q", next))
		}
		in.PartNumberMarker = out.NextPartNumberMarker
	}
}

// junk is the 502 of a 200 that is not the store's answer to the call:
// the store answered something other than what.
func junk(what string, err error) *signers.StoreError {
	return &signers.StoreError{Status: http.StatusBadGateway, Reason: "the store answered something other than " + what, Err: err}
}

// CompleteMultipart implements Multipart.
func (s *S3) CompleteMultipart(ctx context.Context, key, uploadID string, parts []signers.Part) (string, error) {
	ctx, cancel := s.apiContext(ctx)
	defer cancel()
	done := make([]types.CompletedPart, len(parts))
	for i, p := range parts {
		done[i] = types.CompletedPart{PartNumber: aws.Int32(p.PartNumber), ETag: aws.String(p.ETag)}
	}
	out, err := s.api.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(s.Bucket),
		Key:             aws.String(key),
		UploadId:        aws.String(uploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done},
	})
	if err != nil {
		return "", storeError(err)
	}
	// the assembled object's ETag: without it, the 200 is not the store's
	// (a proxy's page, an empty or cut answer), and the upload may be open
	if aws.ToString(out.ETag) == "" {
		return "", junk("the completed upload", errors.New("CompleteMultipartUpload answered without the object's ETag"))
	}
	// the public address, not api_endpoint's, which browsers may not reach
	return s.origin + "/" + escape.Path(key), nil
}

// AbortMultipart implements Multipart.
func (s *S3) AbortMultipart(ctx context.Context, key, uploadID string) error {
	ctx, cancel := s.apiContext(ctx)
	defer cancel()
	_, err := s.api.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(s.Bucket), Key: aws.String(key), UploadId: aws.String(uploadID),
	})
	if err != nil {
		return storeError(err)
	}
	return nil
}

// ObjectSize implements Multipart with HeadObject, bounded by api_timeout.
func (s *S3) ObjectSize(ctx context.Context, key string) (int64, error) {
	ctx, cancel := s.apiContext(ctx)
	defer cancel()
	out, err := s.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(key)})
	if err != nil {
		return 0, storeError(err)
	}
	return aws.ToInt64(out.ContentLength), nil
}

// DeleteObject implements Multipart.
func (s *S3) DeleteObject(ctx context.Context, key string) error {
	ctx, cancel := s.apiContext(ctx)
	defer cancel()
	if _, err := s.api.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(key)}); err != nil {
		return storeError(err)
	}
	return nil
}

var _ signers.Multipart = (*S3)(nil)
