package gcs

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/endpoint"
	"github.com/caddy-presign/presign/signers/internal/escape"
	"github.com/caddy-presign/presign/signers/internal/store"
)

// provisionAPI prepares the calls Caddy makes itself (listings and
// existence checks): their deadline and client.
func (g *GCS) provisionAPI() error {
	if err := store.FillAPITimeout(&g.APITimeout); err != nil {
		return err
	}
	g.api = &http.Client{Transport: http.DefaultTransport}
	return nil
}

// List implements Store with one XML API ListObjectsV2 request (GET
// /<bucket>?list-type=2), V4-signed in its query string like the
// profile's URLs and sent where they go, bounded by api_timeout.
func (g *GCS) List(ctx context.Context, prefix, token string) (*signers.Listing, error) {
	q := []escape.QueryParam{{Name: "list-type", Value: "2"}, {Name: "delimiter", Value: "/"}, {Name: "max-keys", Value: strconv.Itoa(signers.ListPageSize)}}
	if prefix != "" {
		q = append(q, escape.QueryParam{Name: "prefix", Value: prefix})
	}
	if token != "" {
		q = append(q, escape.QueryParam{Name: "continuation-token", Value: token})
	}
	path := g.prefix // "/bucket", or the bucket's own host's root
	if path == "" {
		path = "/"
	}
	resp, cancel, err := g.call(ctx, http.MethodGet, path, q)
	if err != nil {
		return nil, err
	}
	defer cancel()
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, gcsRefused(resp)
	}
	return store.ParseListObjectsV2(resp.Body, g.Bucket, prefix)
}

// Exists implements Store with a HEAD of the object, signed and bounded as
// List: "exists" is a 200 with an ETag, "does not" a 404.
func (g *GCS) Exists(ctx context.Context, key string) (bool, error) {
	resp, cancel, err := g.call(ctx, http.MethodHead, g.prefix+"/"+escape.Path(key), nil)
	if err != nil {
		return false, err
	}
	defer cancel()
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		if resp.Header.Get("ETag") == "" {
			return false, store.NoETag("HEAD of the object")
		}
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, gcsRefused(resp)
}

// call sends one request to the store, V4-signed in its query string for
// as long as api_timeout (at least a minute, for clocks apart), within
// api_timeout. The caller closes the body, then cancels.
func (g *GCS) call(ctx context.Context, method, escapedPath string, q []escape.QueryParam) (*http.Response, context.CancelFunc, error) {
	timeout := time.Duration(g.APITimeout)
	u, err := g.signURL(ctx, &gcsInput{
		Method:      method,
		EscapedPath: escapedPath,
		Query:       q,
		SignTime:    time.Now().Truncate(time.Second),
		Expires:     max(int64(timeout/time.Second)+1, 60),
	}, nil)
	if errors.Is(err, signers.ErrCredentials) {
		return nil, nil, &signers.StoreError{Status: http.StatusServiceUnavailable, Reason: "credentials unavailable", Err: err}
	} else if err != nil {
		return nil, nil, &signers.StoreError{Status: http.StatusBadGateway, Reason: "cannot sign the store's request", Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		cancel()
		return nil, nil, &signers.StoreError{Status: http.StatusBadGateway, Reason: "cannot make the store's request", Err: endpoint.Scrub(err)}
	}
	resp, err := g.api.Do(req)
	if err != nil {
		cancel()
		err = endpoint.Scrub(err) // without the signed URL and the store's address
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, nil, &signers.StoreError{Status: http.StatusBadGateway, Reason: "the store did not answer in time", Err: err}
		}
		return nil, nil, &signers.StoreError{Status: http.StatusBadGateway, Reason: "the store is unreachable", Err: err}
	}
	return resp, cancel, nil
}

// gcsRefused classifies an answer of Cloud Storage other than the one
// asked for (refusal), by its status and the Code of its XML error (a HEAD
// answer has none).
func gcsRefused(resp *http.Response) *signers.StoreError {
	var doc struct {
		Code string `xml:"Code"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = xml.Unmarshal(b, &doc) // no XML error: no code
	return store.Refusal(resp.StatusCode, doc.Code, gcsNamesRequest, fmt.Errorf("%s %s", resp.Request.Method, resp.Status))
}

// gcsNamesRequest is Cloud Storage's table for refusal: a 400 names the
// request when its code is InvalidArgument (a continuation token the store
// never issued among others) or one about the object's name. Any other
// 4xx (a missing bucket, an expired or malformed signature, a requester
// pays bucket without a billing project) blames the profile.
func gcsNamesRequest(status int, code string) bool {
	switch code {
	case "InvalidArgument", "InvalidObjectName", "KeyTooLong", "KeyTooLongError", "InvalidURI":
		return status == http.StatusBadRequest
	}
	return false
}
