// Package store is what the kinds' Stores share.
package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/endpoint"
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

// ListingOf refuses an answer that is no listing of bucket and prefix: a
// ListBucketResult names them (a client reads any 200 body, an HTML page,
// JSON or nothing, as an empty listing).
func ListingOf(gotBucket, gotPrefix, bucket, prefix string) error {
	if gotBucket != bucket || gotPrefix != prefix {
		return &signers.StoreError{
			Status: http.StatusBadGateway, Reason: "the store answered something other than a listing",
			Err: fmt.Errorf("a ListObjectsV2 answer of bucket %q and prefix %q, not of %q and %q", gotBucket, gotPrefix, bucket, prefix),
		}
	}
	return nil
}

// ParseListObjectsV2 reads a ListObjectsV2 answer (a ListBucketResult)
// for bucket and prefix into a checked signers.Listing.
func ParseListObjectsV2(body io.Reader, bucket, prefix string) (*signers.Listing, error) {
	page, err := ReadPage(body, maxListBody)
	if err != nil {
		return nil, &signers.StoreError{Status: http.StatusBadGateway, Reason: "the store's listing was cut off", Err: err}
	}
	defer ReleasePage(page)
	if page.Len() > maxListBody {
		err = fmt.Errorf("a listing over %d bytes", maxListBody)
		return nil, &signers.StoreError{Status: http.StatusBadGateway, Reason: "the store answered a listing that cannot be read", Err: err}
	}
	b := page.Bytes()
	var (
		l               = &signers.Listing{Objects: make([]signers.Object, 0, 64)}
		name, gotPrefix string
		truncated       bool
		d               = NewXMLDoc(b)
	)
	if string(d.Root()) != "ListBucketResult" {
		d.Skip() // another document, or none
	} else {
		for el := range d.Children() {
			switch string(el) {
			case "Name":
				name = d.Text()
			case "Prefix":
				gotPrefix = d.Text()
			case "IsTruncated":
				truncated = ParseBool(d, d.TextBytes())
			case "NextContinuationToken":
				l.Next = d.Text()
			case "Contents":
				l.Objects = append(l.Objects, readObject(d))
			case "CommonPrefixes": // one folder each, "" without a Prefix, as encoding/xml reads it
				folder := ""
				for el := range d.Children() {
					if string(el) == "Prefix" {
						folder = d.Text()
					}
				}
				l.Folders = append(l.Folders, folder)
			}
		}
	}
	if err := d.Err(); err != nil {
		return nil, &signers.StoreError{Status: http.StatusBadGateway, Reason: "the store answered a listing that cannot be read", Err: err}
	}
	if err := ListingOf(name, gotPrefix, bucket, prefix); err != nil {
		return nil, err
	}
	if !truncated {
		l.Next = ""
	}
	return Checked(l, prefix, truncated)
}

// readObject reads a Contents element of a ListBucketResult.
func readObject(d *XMLDoc) signers.Object {
	var o signers.Object
	for el := range d.Children() {
		switch string(el) {
		case "Key":
			o.Key = d.Text()
		case "Size":
			o.Size = ParseInt(d, d.TextBytes())
		case "LastModified":
			if err := o.ModTime.UnmarshalText(d.TextBytes()); err != nil {
				d.fail("LastModified: %v", err)
			}
		}
	}
	return o
}

// ParseInt reads an integer element's text as encoding/xml does: empty is
// 0, spaces around it are ignored; anything else fails d.
func ParseInt(d *XMLDoc, b []byte) int64 {
	if len(b) == 0 {
		return 0
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil {
		d.fail("%v", err)
	}
	return n
}

// ParseBool reads a boolean element's text as encoding/xml does.
func ParseBool(d *XMLDoc, b []byte) bool {
	if len(b) == 0 {
		return false
	}
	v, err := strconv.ParseBool(string(bytes.TrimSpace(b)))
	if err != nil {
		d.fail("%v", err)
	}
	return v
}

// pages are the buffers of listing pages read: a page is read whole, then
// decoded into strings of its own, so that its buffer serves the next.
var pages = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledPage is the largest buffer kept for the next page.
const maxPooledPage = 4 << 20

// ReadPage reads body into a buffer of the pool, up to max+1 bytes: a
// buffer over max bytes is a page too long. The caller gives the buffer
// back with ReleasePage once the page is decoded. Its error, a
// connection's, holds no address (endpoint.Scrub).
func ReadPage(body io.Reader, max int64) (*bytes.Buffer, error) {
	buf := pages.Get().(*bytes.Buffer)
	buf.Reset()
	if _, err := buf.ReadFrom(io.LimitReader(body, max+1)); err != nil {
		ReleasePage(buf)
		return nil, endpoint.Scrub(err)
	}
	return buf, nil
}

// ReleasePage gives a buffer of ReadPage back; the bytes it held may not
// be used after.
func ReleasePage(buf *bytes.Buffer) {
	if buf.Cap() <= maxPooledPage {
		pages.Put(buf)
	}
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
