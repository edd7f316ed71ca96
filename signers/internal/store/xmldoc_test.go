package store

import (
	"bytes"
	"encoding/xml"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/store/pagetest"
)

// refListObjectsV2 reads a page as encoding/xml's Unmarshal does: the
// reference XMLDoc is held to.
func refListObjectsV2(b []byte, bucket, prefix string) (*signers.Listing, error) {
	var doc struct {
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
	if err := xml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if doc.XMLName.Local != "ListBucketResult" {
		doc.Name = ""
	}
	if err := ListingOf(doc.Name, doc.Prefix, bucket, prefix); err != nil {
		return nil, err
	}
	l := &signers.Listing{}
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

var listSeeds = []string{
	pagetest.ListObjectsV2("b", "p/", 3),
	`<?xml version="1.0"?><!-- a comment --><s3:ListBucketResult xmlns:s3="x"><s3:Name>b</s3:Name><s3:Prefix>p/</s3:Prefix>` +
		`<IsTruncated> true </IsTruncated><NextContinuationToken>t&amp;&#x41;&#66;</NextContinuationToken>` +
		`<Contents><Key>p/a &lt;b&gt; &quot;c&quot; &apos;d&apos;</Key><Size/><LastModified>2026-01-02T03:04:05Z</LastModified></Contents>` +
		`<Contents><Key><![CDATA[p/<x>]]>y<!-- no -->z<i>not</i></Key><Size> 7 </Size><LastModified>2026-01-02T03:04:05.123+01:00</LastModified></Contents>` +
		"<CommonPrefixes><Prefix>p/d\r\n/</Prefix></CommonPrefixes><Other a='>'><Name>no</Name></Other>" +
		`</s3:ListBucketResult>trailing <junk`,
	`<ListBucketResult><Name>b</Name><Prefix>p/</Prefix><Contents><Key>q/x</Key></Contents></ListBucketResult>`,
	`<ListBucketResult><Name>b</Name><Prefix>p/</Prefix><CommonPrefixes><Prefix/></CommonPrefixes></ListBucketResult>`,
	`<ListBucketResult><Name>b</Name><Prefix>p/</Prefix><IsTruncated>true</IsTruncated></ListBucketResult>`,
	`<ListBucketResult><Name>b</Name><Prefix>p/</Prefix><Contents><Size>x</Size></Contents></ListBucketResult>`,
	`<ListBucketResult><Name>b</Name><Prefix>p/</Prefix><Contents><LastModified></LastModified></Contents></ListBucketResult>`,
	`<ListBucketResult><Name>b</Name><Prefix>p/</Prefix></ListBucketResul>`,
	`<ListBucketResult><Name>b</Name><Prefix>p/</Prefix>`,
	`<ListBucketResult><Name>b&nbsp;</Name></ListBucketResult>`,
	"<ListBucketResult><Name>b\x01</Name></ListBucketResult>",
	"<ListBucketResult><Name>b\xff</Name></ListBucketResult>",
	`<!DOCTYPE html><html><body><p>Not a listing</p></body></html>`,
	`<Error><Code>NoSuchBucket</Code></Error>`,
	`{"Name": "b"}`,
	``,
	`   `,
	// Inputs where the reader once parted from encoding/xml: names
	// beyond ASCII (element, attribute, target) that XML's tables refuse
	// or take, a name of two colons, a target followed by no space, a
	// prefix with an empty side, the last of two attributes, a surrogate's
	// reference, "]]>" in text, a CDATA section's line ends, a comment
	// inside a directive.
	`<ʰ/>`,
	`<ListBucketResult ʰ="1"><Name>b</Name><Prefix>p/</Prefix></ListBucketResult>`,
	`<ListBucketResult é="1"><Name>b</Name><Prefix>p/</Prefix></ListBucketResult>`,
	`<?ʰ?><ListBucketResult><Name>b</Name><Prefix>p/</Prefix></ListBucketResult>`,
	`<::/>`,
	`<ListBucketResult a:b:c="1"><Name>b</Name><Prefix>p/</Prefix></ListBucketResult>`,
	`<?A!?><s3:ListBucketResult><s3:Name>b</s3:Name><s3:Prefix>p/</s3:Prefix></s3:ListBucketResult>`,
	`<ListBucketResult><:Name>b</:Name><Name:>b</Name:><Name>b</Name><Prefix>p/</Prefix></ListBucketResult>`,
	`<ListBucketResult><Name>b</Name><Prefix>p/</Prefix><Contents><Key>p/&#xD800;</Key></Contents></ListBucketResult>`,
	`<ListBucketResult><Name>b</Name><Prefix>p/</Prefix><Contents><Key>p/a]]>b</Key></Contents></ListBucketResult>`,
	"<ListBucketResult><Name>b</Name><Prefix>p/</Prefix><Contents><Key><![CDATA[p/a\r\nb\rc]]></Key></Contents></ListBucketResult>",
	`<!DOCTYPE a <!-- x -- y -->><ListBucketResult><Name>b</Name><Prefix>p/</Prefix></ListBucketResult>`,
	`<!DOCTYPE a <!---->><!DOCTYPE b <!-->-->><ListBucketResult><Name>b</Name><Prefix>p/</Prefix></ListBucketResult>`,
}

// TestParseListObjectsV2: pages, odd and junk documents read as
// encoding/xml reads them: the same listing, or an error both ways.
func TestParseListObjectsV2(t *testing.T) {
	for _, s := range listSeeds {
		compareWithRef(t, []byte(s))
	}
	l, err := ParseListObjectsV2(strings.NewReader(listSeeds[1]), "b", "p/")
	if err != nil {
		t.Fatal(err)
	}
	if l.Objects[0].Key != `p/a <b> "c" 'd'` || l.Objects[1].Key != "p/<x>yz" || l.Objects[1].Size != 7 ||
		l.Folders[0] != "p/d\n/" || l.Next != "t&AB" {
		t.Errorf("listing %+v", l)
	}
}

// TestParseListObjectsV2Tricky: documents built from the pieces of XML on
// which the reader may part from encoding/xml read as encoding/xml reads
// them.
func TestParseListObjectsV2Tricky(t *testing.T) {
	v := pagetest.Vocab{
		Root:     "ListBucketResult",
		Elements: []string{"Name", "Prefix", "IsTruncated", "NextContinuationToken", "Contents", "Contents>Key", "Contents>Size", "Contents>LastModified", "CommonPrefixes", "CommonPrefixes>Prefix"},
		Attrs:    []string{"xmlns", "a"},
		Texts: map[string][]string{
			"Name": {"b"}, "Prefix": {"p/"}, "IsTruncated": {"true", "false"}, "NextContinuationToken": {"t"},
			"Key": {"p/a", "p/b c", "p/d&amp;e"}, "Size": {"7", " 12 "}, "LastModified": {"2026-01-02T03:04:05Z"},
		},
	}
	pagetest.ReadTricky(t, v, func(doc []byte) bool { return compareWithRef(t, doc) })
}

// FuzzParseListObjectsV2: XMLDoc reads what encoding/xml reads.
func FuzzParseListObjectsV2(f *testing.F) {
	for _, s := range listSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { compareWithRef(t, b) })
}

// compareWithRef fails t unless ParseListObjectsV2 reads b as
// encoding/xml does, and tells whether it read a listing.
func compareWithRef(t *testing.T, b []byte) bool {
	t.Helper()
	want, werr := refListObjectsV2(b, "b", "p/")
	got, err := ParseListObjectsV2(bytes.NewReader(b), "b", "p/")
	if (err == nil) != (werr == nil) {
		t.Fatalf("%q: error %v, encoding/xml's %v", b, err, werr)
	}
	var se *signers.StoreError
	if err != nil && (!errors.As(err, &se) || se.Status != 502) {
		t.Fatalf("%q: %v, want a 502 StoreError", b, err)
	}
	if err == nil {
		if len(got.Folders) == 0 {
			got.Folders = nil
		}
		if len(got.Objects) == 0 {
			got.Objects = nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: %+v, encoding/xml's %+v", b, got, want)
		}
	}
	return err == nil
}
