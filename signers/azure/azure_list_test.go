package azure

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// azureListPage is a List Blobs answer of container and prefix holding n
// blobs, with the properties Azurite writes.
func azureListPage(container, prefix string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="http://127.0.0.1:10000/devstoreaccount1" ContainerName="%s"><Prefix>%s</Prefix><MaxResults>1000</MaxResults><Delimiter>/</Delimiter><Blobs>`, container, prefix)
	for i := range n {
		fmt.Fprintf(&b, `<Blob><Name>%sfile-%04d.txt</Name><Properties><Creation-Time>Fri, 02 Jan 2026 03:04:05 GMT</Creation-Time><Last-Modified>Fri, 02 Jan 2026 03:04:05 GMT</Last-Modified><Etag>0x1F2E3D4C5B6A798</Etag><Content-Length>%d</Content-Length><Content-Type>application/octet-stream</Content-Type><Content-MD5>/zJ3F8uPgMpZc/cF0QHSDA==</Content-MD5><BlobType>BlockBlob</BlobType><LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState><ServerEncrypted>true</ServerEncrypted><AccessTier>Hot</AccessTier><AccessTierInferred>true</AccessTierInferred></Properties></Blob>`, prefix, i, 1000+i)
	}
	b.WriteString(`</Blobs><NextMarker/></EnumerationResults>`)
	return b.String()
}

// BenchmarkAzureList lists a page of 1,000 blobs from a local server: the
// request, its SAS and the page's decoding.
func BenchmarkAzureList(b *testing.B) {
	page := []byte(azureListPage("media", "docs/", 1000))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(page) }))
	defer srv.Close()
	a := newTestAzure(b, &Azure{Account: "devstoreaccount1", Container: "media", AccountKey: azureTestKey, Endpoint: srv.URL + "/devstoreaccount1"})
	b.ReportAllocs()
	for b.Loop() {
		l, err := a.List(context.Background(), "docs/", "")
		if err != nil || len(l.Objects) != 1000 {
			b.Fatal(err)
		}
	}
}
