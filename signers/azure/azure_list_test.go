package azure

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/caddy-presign/presign/signers/internal/store/pagetest"
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

// refAzureListing reads a List Blobs answer as encoding/xml did before
// readAzureListing: the reference it is held to.
func refAzureListing(b []byte) (*azureListing, error) {
	type name struct {
		Encoded bool   `xml:"Encoded,attr"`
		Value   string `xml:",chardata"`
	}
	str := func(n name) string {
		if n.Encoded {
			if v, err := url.PathUnescape(n.Value); err == nil {
				return v
			}
		}
		return n.Value
	}
	var res struct {
		Container  string `xml:"ContainerName,attr"`
		Prefix     string `xml:"Prefix"`
		NextMarker string `xml:"NextMarker"`
		Blobs      []struct {
			Name       name `xml:"Name"`
			Properties struct {
				LastModified  string `xml:"Last-Modified"`
				ContentLength int64  `xml:"Content-Length"`
			} `xml:"Properties"`
		} `xml:"Blobs>Blob"`
		Prefixes []struct {
			Name name `xml:"Name"`
		} `xml:"Blobs>BlobPrefix"`
	}
	if err := xml.NewDecoder(bytes.NewReader(b)).Decode(&res); err != nil {
		return nil, err
	}
	l := &azureListing{Container: res.Container, Prefix: res.Prefix, NextMarker: res.NextMarker, Blobs: []azureBlob{}}
	for _, b := range res.Blobs {
		l.Blobs = append(l.Blobs, azureBlob{Name: str(b.Name), LastModified: b.Properties.LastModified, ContentLength: b.Properties.ContentLength})
	}
	for _, p := range res.Prefixes {
		l.Prefixes = append(l.Prefixes, str(p.Name))
	}
	return l, nil
}

var azureListSeeds = []string{
	azureListPage("media", "docs/", 3),
	`<?xml version="1.0" encoding="utf-8"?><EnumerationResults ContainerName="media"><Prefix>docs/</Prefix><Blobs>` +
		`<Blob><Name Encoded="true">docs/a%0Ab</Name><Properties><Content-Length> 12 </Content-Length></Properties></Blob>` +
		`<BlobPrefix><Name>docs/sub/</Name></BlobPrefix><BlobPrefix><Name Encoded="false">docs/%41/</Name></BlobPrefix><BlobPrefix/>` +
		`<Blob><Name>docs/x &amp; y</Name><Name>docs/last</Name><Properties><Last-Modified>Fri, 02 Jan 2026 03:04:05 GMT</Last-Modified></Properties></Blob>` +
		`</Blobs><Blobs><Blob><Name Encoded="true">docs/%zz</Name></Blob></Blobs><NextMarker>m&lt;1</NextMarker></EnumerationResults>`,
	`<EnumerationResults ContainerName="media"><Blobs><Blob><Name Encoded="maybe">x</Name></Blob></Blobs></EnumerationResults>`,
	`<EnumerationResults ContainerName="media"><Blobs><Blob><Properties><Content-Length>x</Content-Length></Properties></Blob></Blobs></EnumerationResults>`,
	`<EnumerationResults ContainerName='media' ServiceEndpoint="a>b"><Prefix/></EnumerationResults>`,
	`<EnumerationResults ContainerName="media"><Prefix>docs/</Prefix>`,
	`<Error><Code>ContainerNotFound</Code></Error>`,
	`<!DOCTYPE html><html><body>hi</body></html>`,
	``,
	// Inputs where the reader once parted from encoding/xml: names
	// beyond ASCII that XML's tables refuse or take, a name of two
	// colons, the last of two attributes, a prefixed attribute, a CDATA
	// section's line ends, a second Name that keeps the first's Encoded.
	`<ʰ/>`,
	`<EnumerationResults ʰ="1" ContainerName="media"></EnumerationResults>`,
	`<::/>`,
	`<EnumerationResults ContainerName="a" ContainerName="media"><Blobs><Blob><Name Encoded="maybe" Encoded="true">x%41</Name></Blob></Blobs></EnumerationResults>`,
	`<EnumerationResults x:ContainerName="media" :ContainerName="b"></EnumerationResults>`,
	"<EnumerationResults ContainerName=\"media\"><Blobs><Blob><Name><![CDATA[a\rb]]></Name></Blob></Blobs></EnumerationResults>",
	`<EnumerationResults ContainerName="media"><Blobs><Blob><Name Encoded="true">a</Name><Name>b%41</Name></Blob>` +
		`<BlobPrefix><Name Encoded="true">c</Name><Name>d%41/</Name></BlobPrefix></Blobs></EnumerationResults>`,
}

// TestReadAzureListing: List Blobs answers, odd and junk documents read
// as encoding/xml read them: the same listing, or an error both ways.
func TestReadAzureListing(t *testing.T) {
	for _, s := range azureListSeeds {
		compareAzureWithRef(t, []byte(s))
	}
}

// TestReadAzureListingTricky: documents built from the pieces of XML on
// which the reader may part from encoding/xml read as encoding/xml reads
// them.
func TestReadAzureListingTricky(t *testing.T) {
	v := pagetest.Vocab{
		Root: "EnumerationResults",
		Elements: []string{
			"Prefix", "NextMarker", "Blobs", "Blobs>Blob", "Blobs>Blob>Name", "Blobs>Blob>Properties",
			"Blobs>Blob>Properties>Last-Modified", "Blobs>Blob>Properties>Content-Length", "Blobs>BlobPrefix", "Blobs>BlobPrefix>Name",
		},
		Attrs: []string{"ContainerName", "Encoded", "xmlns"},
		Texts: map[string][]string{
			"Prefix": {"docs/"}, "NextMarker": {"m"}, "Name": {"docs/a", "docs/a%41", "docs/b%zz"},
			"Last-Modified": {"Fri, 02 Jan 2026 03:04:05 GMT"}, "Content-Length": {"12", " 7 "},
		},
	}
	pagetest.ReadTricky(t, v, func(doc []byte) bool { return compareAzureWithRef(t, doc) })
}

// FuzzReadAzureListing: readAzureListing reads what encoding/xml reads.
func FuzzReadAzureListing(f *testing.F) {
	for _, s := range azureListSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { compareAzureWithRef(t, b) })
}

// compareAzureWithRef fails t unless readAzureListing reads b as
// encoding/xml does, and tells whether it read a listing.
func compareAzureWithRef(t *testing.T, b []byte) bool {
	t.Helper()
	want, werr := refAzureListing(b)
	got, err := readAzureListing(bytes.NewReader(b))
	if (err == nil) != (werr == nil) {
		t.Fatalf("%q: error %v, encoding/xml's %v", b, err, werr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: %+v, encoding/xml's %+v", b, got, want)
	}
	return err == nil
}
