// Package store is what the kinds' Stores share.
package store

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddyserver/caddy/v2"
)

// What the kinds' Stores share: the api_timeout default, the ListObjectsV2
// document (S3's shape, which Cloud Storage's
// XML API serves too) and the check of a page before it is shown.

// defaultAPITimeout is the default deadline of a call Caddy makes itself
// to a store (api_timeout).
const defaultAPITimeout = 10 * time.Second

// FillAPITimeout fills a profile's api_timeout with the default, and
// refuses a negative one.
func FillAPITimeout(d *caddy.Duration) error {
	if *d == 0 {
		*d = caddy.Duration(defaultAPITimeout)
	}
	if *d < 0 {
		return errors.New("api_timeout must be positive")
	}
	return nil
}

// maxListBody bounds a ListObjectsV2 document: a page of 1000 entries of
// keys up to 1024 bytes, escaped, is well under it.
const maxListBody = 16 << 20

// listObjectsV2 is the ListObjectsV2 answer (ListBucketResult), as far as
// a signers.Listing needs it.
type listObjectsV2 struct {
	XMLName               xml.Name
	Name                  string `xml:"Name"`
	Prefix                string `xml:"Prefix"`
	IsTruncated           bool   `xml:"IsTruncated"`
	NextContinuationToken string `xml:"NextContinuationToken"`
	Contents              []struct {
		Key          string    `xml:"Key"`
		Size         int64     `xml:"Size"`
		LastModified time.Time `xml:"LastModified"`
	} `xml:"Contents"`
	CommonPrefixes []struct {
		Prefix string `xml:"Prefix"`
	} `xml:"CommonPrefixes"`
}

// ListingOf refuses an answer that is no listing of bucket and prefix: a
// ListBucketResult names them (a client reads any 200 body, an HTML page,
// JSON or nothing, as an empty listing).
func ListingOf(gotBucket, gotPrefix, bucket, prefix string) error {
	if gotBucket != bucket || gotPrefix != prefix {
		return &signers.StoreError{Status: http.StatusBadGateway, Reason: "the store answered something other than a listing",
			Err: fmt.Errorf("a ListObjectsV2 answer of bucket %q and prefix %q, not of %q and %q", gotBucket, gotPrefix, bucket, prefix)}
	}
	return nil
}

// ParseListObjectsV2 reads a ListObjectsV2 answer for bucket and prefix
// into a checked signers.Listing.
func ParseListObjectsV2(body io.Reader, bucket, prefix string) (*signers.Listing, error) {
	var doc listObjectsV2
	b, err := io.ReadAll(io.LimitReader(body, maxListBody+1))
	if err != nil {
		return nil, &signers.StoreError{Status: http.StatusBadGateway, Reason: "the store's listing was cut off", Err: err}
	}
	if len(b) > maxListBody {
		err = fmt.Errorf("a listing over %d bytes", maxListBody)
	} else {
		err = xml.Unmarshal(b, &doc)
	}
	if err != nil {
		return nil, &signers.StoreError{Status: http.StatusBadGateway, Reason: "the store answered a listing that cannot be read", Err: err}
	}
	if doc.XMLName.Local != "ListBucketResult" {
		doc.Name = "" // another document
	}
	if err := ListingOf(doc.Name, doc.Prefix, bucket, prefix); err != nil {
		return nil, err
	}
	l := &signers.Listing{Folders: make([]string, 0, len(doc.CommonPrefixes)), Objects: make([]signers.Object, 0, len(doc.Contents))}
	for _, p := range doc.CommonPrefixes {
		l.Folders = append(l.Folders, p.Prefix)
	}
	for _, o := range doc.Contents {
		l.Objects = append(l.Objects, signers.Object{Key: o.Key, Size: o.Size, ModTime: o.LastModified})
	}
	if doc.IsTruncated {
		l.Next = doc.NextContinuationToken
	}
	return Checked(l, prefix, doc.IsTruncated)
}

// Checked returns l, or a 502 signers.StoreError when l would be shown wrong
// (see Check).
func Checked(l *signers.Listing, prefix string, truncated bool) (*signers.Listing, error) {
	if err := Check(l, prefix, truncated); err != nil {
		return nil, &signers.StoreError{Status: http.StatusBadGateway, Reason: "the store answered a listing that cannot be shown", Err: err}
	}
	return l, nil
}

// Check refuses a page that would be shown wrong: entries outside the
// prefix, more than a page, or a truncated page without the token of the
// next one (a partial listing passed off as a whole).
func Check(l *signers.Listing, prefix string, truncated bool) error {
	if len(l.Folders)+len(l.Objects) > signers.ListPageSize {
		return fmt.Errorf("%d entries in one page, more than %d", len(l.Folders)+len(l.Objects), signers.ListPageSize)
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
