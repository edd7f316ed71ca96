package s3

import (
	"context"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/store"
)

// List implements Store with one ListObjectsV2 request, bounded by
// api_timeout.
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
	out, err := s.api.ListObjectsV2(ctx, in)
	if err != nil {
		return nil, storeError(err)
	}
	// The SDK reads any 200 body, an HTML page, JSON or nothing, as an
	// empty listing: a ListBucketResult names the bucket and the prefix.
	if err := store.ListingOf(aws.ToString(out.Name), aws.ToString(out.Prefix), s.Bucket, prefix); err != nil {
		return nil, err
	}
	l := &signers.Listing{Folders: make([]string, 0, len(out.CommonPrefixes)), Objects: make([]signers.Object, 0, len(out.Contents))}
	for _, p := range out.CommonPrefixes {
		l.Folders = append(l.Folders, aws.ToString(p.Prefix))
	}
	for _, o := range out.Contents {
		l.Objects = append(l.Objects, signers.Object{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified)})
	}
	if aws.ToBool(out.IsTruncated) {
		l.Next = aws.ToString(out.NextContinuationToken)
	}
	return store.Checked(l, prefix, aws.ToBool(out.IsTruncated))
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
