package signers

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// List implements Store with one ListObjectsV2 request, bounded by
// api_timeout.
func (s *S3) List(ctx context.Context, prefix, token string) (*Listing, error) {
	in := &s3.ListObjectsV2Input{
		Bucket:    aws.String(s.Bucket),
		Delimiter: aws.String("/"),
		MaxKeys:   aws.Int32(ListPageSize),
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
	if aws.ToString(out.Name) != s.Bucket || aws.ToString(out.Prefix) != prefix {
		return nil, &StoreError{Status: http.StatusBadGateway, Reason: "the store answered something other than a listing",
			Err: fmt.Errorf("a ListObjectsV2 answer of bucket %q and prefix %q, not of %q and %q", aws.ToString(out.Name), aws.ToString(out.Prefix), s.Bucket, prefix)}
	}
	l := &Listing{Folders: make([]string, 0, len(out.CommonPrefixes)), Objects: make([]Object, 0, len(out.Contents))}
	for _, p := range out.CommonPrefixes {
		l.Folders = append(l.Folders, aws.ToString(p.Prefix))
	}
	for _, o := range out.Contents {
		l.Objects = append(l.Objects, Object{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified)})
	}
	if aws.ToBool(out.IsTruncated) {
		l.Next = aws.ToString(out.NextContinuationToken)
	}
	if err := l.check(prefix, aws.ToBool(out.IsTruncated)); err != nil {
		return nil, &StoreError{Status: http.StatusBadGateway, Reason: "the store answered a listing that cannot be shown", Err: err}
	}
	return l, nil
}

// check refuses a page that would be shown wrong: entries outside the
// prefix, more than a page, or a truncated page without the token of the
// next one (a partial listing passed off as a whole).
func (l *Listing) check(prefix string, truncated bool) error {
	if len(l.Folders)+len(l.Objects) > ListPageSize {
		return fmt.Errorf("%d entries in one page, more than %d", len(l.Folders)+len(l.Objects), ListPageSize)
	}
	if truncated && l.Next == "" {
		return errors.New("a truncated page without a continuation token")
	}
	for _, f := range l.Folders {
		if !strings.HasPrefix(f, prefix) || !strings.HasSuffix(f, "/") {
			return fmt.Errorf("folder %q is not under the prefix %q", f, prefix)
		}
	}
	for _, o := range l.Objects {
		if !strings.HasPrefix(o.Key, prefix) {
			return fmt.Errorf("key %q is not under the prefix %q", o.Key, prefix)
		}
	}
	return nil
}

// Exists implements Store with HeadObject, bounded by api_timeout; the
// answers, "exists" and "does not", are cached for window.
func (s *S3) Exists(ctx context.Context, key string, at time.Time, window time.Duration) (bool, error) {
	now := at.UnixNano()
	h := s.exists.hash(key)
	if e := s.exists.lookup(h, key, now, int64(window)); e != nil {
		return e.exists, nil
	}
	ctx, cancel := s.apiContext(ctx)
	defer cancel()
	_, err := s.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(key)})
	exists := err == nil
	if err != nil {
		if se := storeError(err); se.Status != http.StatusNotFound {
			return false, se
		}
	}
	s.exists.store(h, &existsEntry{key: key, exists: exists, at: now})
	return exists, nil
}

// existsCache remembers Exists's answers: a slotCache hashed by key, whose
// entries say when the store was asked. Unlike the URL caches, it stores
// every answer at once: an answer costs a request to the store, not a
// signature, and a key asked once is worth remembering for its window
// (a page of links, a download retried). A hit is two atomic loads and a
// comparison, without allocation or lock.
type existsCache struct{ slotCache[existsEntry] }

// existsEntry is one answer of the store.
type existsEntry struct {
	key    string
	exists bool
	at     int64 // when the store was asked, Unix nanoseconds
}

func newExistsCache() *existsCache {
	c := new(existsCache)
	c.init()
	return c
}

func (c *existsCache) hash(key string) uint64 {
	return c.finish(maphash.String(c.seed, key))
}

// lookup returns the answer for key in h's slot if it was given less than
// window nanoseconds before now, or nil. A clock that went back makes no
// entry younger than it is.
func (c *existsCache) lookup(h uint64, key string, now, window int64) *existsEntry {
	e, _ := c.find(h, func(e *existsEntry) bool {
		age := now - e.at
		return e.key == key && age >= 0 && age < window
	})
	return e
}
