package azure

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/endpoint"
	"github.com/caddy-presign/presign/signers/internal/store"
)

// azureAPISASLife is how long the SAS of one of Caddy's own calls lives
// beyond the call's deadline: room for clocks that differ.
const azureAPISASLife = time.Minute

// azureMaxListing bounds the body of a List Blobs answer read: a page of
// 1000 entries of 1024-byte names with their properties is well under it.
const azureMaxListing = 8 << 20

// List implements Store with one List Blobs request (restype=container,
// comp=list, delimiter "/", at most 1000 entries), authenticated by a
// container SAS with sp=l that Caddy signs for itself, bounded by
// api_timeout. The continuation token is Azure's marker, base64url-encoded
// so that any marker passes the handler's token check.
func (a *Azure) List(ctx context.Context, prefix, token string) (*signers.Listing, error) {
	marker, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return nil, &signers.StoreError{Status: http.StatusBadRequest, Reason: "not a continuation token of this listing", Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(a.APITimeout))
	defer cancel()
	sas, err := a.apiSAS(ctx, &azureSAS{perm: "l", container: true})
	if err != nil {
		return nil, err
	}
	q := "&restype=container&comp=list&delimiter=%2F&maxresults=" + strconv.Itoa(signers.ListPageSize)
	if prefix != "" {
		q += "&prefix=" + url.QueryEscape(prefix)
	}
	if len(marker) > 0 {
		q += "&marker=" + url.QueryEscape(string(marker))
	}
	resp, err := a.apiDo(ctx, http.MethodGet, sas+q)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, azureRefusal(resp)
	}
	res, err := readAzureListing(resp.Body)
	if err != nil {
		return nil, &signers.StoreError{Status: http.StatusBadGateway, Reason: "the store answered something other than a listing", Err: err}
	}
	if res.Container != a.Container || res.Prefix != prefix {
		return nil, &signers.StoreError{
			Status: http.StatusBadGateway, Reason: "the store answered something other than a listing",
			Err: fmt.Errorf("a List Blobs answer of container %q and prefix %q, not of %q and %q", res.Container, res.Prefix, a.Container, prefix),
		}
	}
	l := &signers.Listing{Folders: make([]string, 0, len(res.Prefixes)), Objects: make([]signers.Object, 0, len(res.Blobs))}
	l.Folders = append(l.Folders, res.Prefixes...)
	for _, b := range res.Blobs {
		mod, _ := time.Parse(http.TimeFormat, b.LastModified)
		l.Objects = append(l.Objects, signers.Object{Key: b.Name, Size: b.ContentLength, ModTime: mod})
	}
	if res.NextMarker != "" {
		l.Next = base64.RawURLEncoding.EncodeToString([]byte(res.NextMarker))
	}
	if err := store.Check(l, prefix, res.NextMarker != ""); err != nil {
		return nil, &signers.StoreError{Status: http.StatusBadGateway, Reason: "the store answered a listing that cannot be shown", Err: err}
	}
	return l, nil
}

// azureListing is what List reads of a List Blobs answer
// (EnumerationResults).
type azureListing struct {
	Container  string // the root's ContainerName
	Prefix     string
	NextMarker string
	Blobs      []azureBlob // Blobs>Blob
	Prefixes   []string    // Blobs>BlobPrefix>Name
}

// azureBlob is a blob of a listing.
type azureBlob struct {
	Name          string
	LastModified  string // Properties>Last-Modified
	ContentLength int64  // Properties>Content-Length
}

// readAzureListing reads a List Blobs answer, at most azureMaxListing
// bytes of it, with the shared decoder of listing pages.
func readAzureListing(body io.Reader) (*azureListing, error) {
	page, err := store.ReadPage(body, azureMaxListing)
	if err != nil {
		return nil, err
	}
	defer store.ReleasePage(page)
	if page.Len() > azureMaxListing {
		return nil, fmt.Errorf("a listing over %d bytes", azureMaxListing)
	}
	res := &azureListing{Blobs: make([]azureBlob, 0, 64)}
	d := store.NewXMLDoc(page.Bytes())
	d.Root()
	for v := range d.Attrs("ContainerName") {
		res.Container = v
	}
	for el := range d.Children() {
		switch string(el) {
		case "Prefix":
			res.Prefix = d.Text()
		case "NextMarker":
			res.NextMarker = d.Text()
		case "Blobs":
			for el := range d.Children() {
				switch string(el) {
				case "Blob":
					res.Blobs = append(res.Blobs, readAzureBlob(d))
				case "BlobPrefix":
					var name azureName
					for el := range d.Children() {
						if string(el) == "Name" {
							name.read(d)
						}
					}
					res.Prefixes = append(res.Prefixes, name.String())
				}
			}
		}
	}
	return res, d.Err()
}

// readAzureBlob reads a Blob element of a listing.
func readAzureBlob(d *store.XMLDoc) azureBlob {
	var (
		b    azureBlob
		name azureName
	)
	for el := range d.Children() {
		switch string(el) {
		case "Name":
			name.read(d)
		case "Properties":
			for el := range d.Children() {
				switch string(el) {
				case "Last-Modified":
					b.LastModified = d.Text()
				case "Content-Length":
					b.ContentLength = store.ParseInt(d, d.TextBytes())
				}
			}
		}
	}
	b.Name = name.String()
	return b
}

// azureName is the Name of a Blob or BlobPrefix: Azure percent-encodes,
// and marks Encoded, a name that XML cannot hold. A second Name element
// in the same parent reads into it as Unmarshal reads one: its text
// replaces the first's, and Encoded stands unless it says otherwise.
type azureName struct {
	encoded bool
	value   string
}

// read reads a Name element into n.
func (n *azureName) read(d *store.XMLDoc) {
	for v := range d.Attrs("Encoded") {
		n.encoded = store.ParseBool(d, []byte(v))
	}
	n.value = d.Text()
}

// String is the name, decoded when it is marked Encoded and decodes.
func (n azureName) String() string {
	if n.encoded {
		if u, err := url.PathUnescape(n.value); err == nil {
			return u
		}
	}
	return n.value
}

// Exists implements Store with Get Blob Properties (HEAD), authenticated
// by a SAS with sp=r that Caddy signs for itself, bounded by api_timeout;
// "exists" is a 200 with an ETag, "does not" a 404 BlobNotFound. A
// missing container, or a 404
// that is not the service's (no BlobNotFound), is a failure, not a
// missing blob.
func (a *Azure) Exists(ctx context.Context, key string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(a.APITimeout))
	defer cancel()
	sas, err := a.apiSAS(ctx, &azureSAS{perm: "r", key: key})
	if err != nil {
		return false, err
	}
	resp, err := a.apiDo(ctx, http.MethodHead, sas)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
		if resp.Header.Get("ETag") == "" {
			return false, store.NoETag("Get Blob Properties")
		}
		return true, nil
	case resp.StatusCode == http.StatusNotFound && resp.Header.Get("x-ms-error-code") == "BlobNotFound":
		return false, nil
	}
	return false, azureRefusal(resp)
}

// apiSAS returns the URL of in, signed for one of Caddy's own calls: it
// lives until the call's deadline and a little more. A user delegation key
// that cannot be had is a 503.
func (a *Azure) apiSAS(ctx context.Context, in *azureSAS) (string, error) {
	now := time.Now().UTC().Truncate(time.Second)
	in.expiry = now.Add(time.Duration(a.APITimeout) + azureAPISASLife)
	macs, err := a.keyFor(ctx, in, now)
	if err != nil {
		return "", &signers.StoreError{Status: http.StatusServiceUnavailable, Reason: "credentials unavailable", Err: err}
	}
	return a.sasURL(in, macs), nil
}

// apiDo sends one of Caddy's own calls to the blob service at u (a SAS
// URL). Its errors are StoreErrors and hold neither the URL, whose query
// is a signature, nor the service's address.
func (a *Azure) apiDo(ctx context.Context, method, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, &signers.StoreError{Status: http.StatusBadGateway, Reason: "the store request cannot be made", Err: errors.New("invalid request URL")}
	}
	req.Header.Set("x-ms-version", azureSASVersion)
	resp, err := a.api.Do(req)
	if err != nil {
		err = endpoint.Scrub(err) // without the SAS URL and the store's address
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, &signers.StoreError{Status: http.StatusBadGateway, Reason: "the store did not answer in time", Err: err}
		}
		return nil, &signers.StoreError{Status: http.StatusBadGateway, Reason: "the store is unreachable", Err: err}
	}
	return resp, nil
}

// azureRefusal classifies an answer of the blob service other than the
// one asked for (refusal), by its status, its x-ms-error-code and, for a
// query parameter's refusal, the parameter its XML error names (a HEAD
// answer has no body: no parameter).
func azureRefusal(resp *http.Response) *signers.StoreError {
	var doc struct {
		Param string `xml:"QueryParameterName"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = xml.Unmarshal(b, &doc) // no XML error: no parameter
	names := func(status int, code string) bool { return azureNamesRequest(status, code, doc.Param) }
	return store.Refusal(resp.StatusCode, resp.Header.Get("x-ms-error-code"), names,
		fmt.Errorf("blob service answered %s", resp.Status))
}

// azureNamesRequest is Azure's table for refusal: a 400 names the request
// when its code says a name is invalid or too long (InvalidResourceName,
// InvalidUri, OutOfRangeInput, InvalidInput), or a query parameter of the
// request's is invalid (InvalidQueryParameterValue or
// OutOfRangeQueryParameterValue about marker or prefix: a marker the
// service never issued). The same codes about the SAS's own parameters,
// and every other 4xx (a missing container, a refused signature), blame
// the profile.
func azureNamesRequest(status int, code, param string) bool {
	if status != http.StatusBadRequest {
		return false
	}
	switch code {
	case "InvalidResourceName", "InvalidUri", "OutOfRangeInput", "InvalidInput":
		return true
	case "InvalidQueryParameterValue", "OutOfRangeQueryParameterValue":
		return param == "marker" || param == "prefix"
	}
	return false
}
