package signerstest

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/caddy-presign/presign/signers"
)

// MultipartWire is a store's protocol of multipart uploads, as the
// suite's recording server speaks it for a kind whose profiles are a
// signers.Multipart: the server reads each call Caddy makes, checks its
// credential, and answers whatever the check at hand needs.
type MultipartWire struct {
	// Call reads a request Caddy made to the store: which call it is
	// ("create", "parts", "complete" or "abort", with the key and what the
	// call names), and nil when its credential allows exactly that call
	// and no more (least privilege), else why not. A request that is none
	// of them is an error.
	Call func(r *http.Request) (Call, error)

	// UploadID is an upload id as the store issues them.
	UploadID string

	// WriteCreate answers a create with the upload id.
	WriteCreate func(w http.ResponseWriter, c Call, uploadID string)

	// WriteParts answers a listing of the upload's parts with the page p.
	WriteParts func(w http.ResponseWriter, c Call, p PartsPage)

	// WriteComplete answers a completion: the object is assembled.
	WriteComplete func(w http.ResponseWriter, c Call)

	// WriteAbort answers an abort: the upload and its parts are gone.
	WriteAbort func(w http.ResponseWriter, c Call)

	// Error200: the store may answer a completion 200 and then an error
	// in its body (S3 does: it sends the status before it assembles the
	// parts). The suite sends such an answer, which must be an error.
	Error200 bool

	// Refusals is the kind's table of the store's refusals of multipart
	// calls and what each must be classified as (the StoreError's status):
	// at least one case of the request's doing (400), one of the upload
	// being gone (404) and one outage (502).
	Refusals []RefusalCase
}

// PartsPage is a page of an upload's parts as the store sends it.
type PartsPage struct {
	UploadID  string // the upload the page says it lists
	Parts     []signers.Part
	Next      string // the store's marker of the next page
	Truncated bool
}

// S3Multipart is the MultipartWire of a store that speaks S3's protocol,
// with bucket in the path: POST /<bucket>/<key>?uploads (answered with an
// InitiateMultipartUploadResult), GET ?uploadId= (part-number-marker; a
// ListPartsResult), POST ?uploadId= with a CompleteMultipartUpload body
// (a CompleteMultipartUploadResult) and DELETE ?uploadId= (204). authorize
// is the kind's check of a call's credential (its signature, scoped to
// the call's method and path); the kind adds its refusal table.
func S3Multipart(bucket string, authorize func(r *http.Request) error) *MultipartWire {
	return &MultipartWire{
		UploadID: "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA",
		Error200: true,
		Call: func(r *http.Request) (Call, error) {
			err := authorize(r)
			rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/"+bucket+"/")
			key, kerr := url.PathUnescape(rest)
			q := r.URL.Query()
			c := Call{Key: key, UploadID: q.Get("uploadId")}
			switch {
			case !ok || key == "" || kerr != nil:
				return Call{}, fmt.Errorf("not a call on an object of bucket %s: %s %s", bucket, r.Method, r.URL.Path)
			case r.Method == http.MethodPost && q.Has("uploads") && !q.Has("uploadId"):
				c.Op, c.ContentType, c.Meta = "create", r.Header.Get("Content-Type"), map[string]string{}
				for name, vs := range r.Header {
					if m, ok := strings.CutPrefix(strings.ToLower(name), "x-amz-meta-"); ok {
						c.Meta[m] = strings.Join(vs, ",")
					}
				}
			case r.Method == http.MethodGet && q.Has("uploadId"):
				c.Op, c.Token = "parts", q.Get("part-number-marker")
			case r.Method == http.MethodPost && q.Has("uploadId"):
				c.Op = "complete"
				var doc struct {
					Part []struct {
						PartNumber int32
						ETag       string
					}
				}
				if derr := xml.NewDecoder(r.Body).Decode(&doc); derr != nil {
					return c, errors.Join(err, fmt.Errorf("a completion whose body is not a CompleteMultipartUpload: %v", derr))
				}
				for _, p := range doc.Part {
					c.Parts = append(c.Parts, signers.Part{PartNumber: p.PartNumber, ETag: p.ETag})
				}
			case r.Method == http.MethodDelete && q.Has("uploadId"):
				c.Op = "abort"
			default:
				return Call{}, fmt.Errorf("not a call of a multipart upload: %s %s?%s", r.Method, r.URL.Path, r.URL.RawQuery)
			}
			return c, err
		},
		WriteCreate: func(w http.ResponseWriter, c Call, uploadID string) {
			writeXML(w, struct {
				XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
				Bucket   string
				Key      string
				UploadId string
			}{Bucket: bucket, Key: c.Key, UploadId: uploadID})
		},
		WriteParts: func(w http.ResponseWriter, c Call, p PartsPage) {
			type part struct {
				PartNumber   int32
				LastModified string
				ETag         string
				Size         int64
			}
			doc := struct {
				XMLName              xml.Name `xml:"ListPartsResult"`
				Bucket, Key          string
				UploadId             string
				PartNumberMarker     string
				NextPartNumberMarker string `xml:",omitempty"`
				MaxParts             int
				IsTruncated          bool
				Part                 []part
			}{
				Bucket: bucket, Key: c.Key, UploadId: p.UploadID, PartNumberMarker: c.Token, NextPartNumberMarker: p.Next,
				MaxParts: 1000, IsTruncated: p.Truncated,
			}
			for _, pt := range p.Parts {
				doc.Part = append(doc.Part, part{pt.PartNumber, "2026-01-02T03:04:05.000Z", pt.ETag, pt.Size})
			}
			writeXML(w, doc)
		},
		WriteComplete: func(w http.ResponseWriter, c Call) {
			writeXML(w, struct {
				XMLName  xml.Name `xml:"CompleteMultipartUploadResult"`
				Location string
				Bucket   string
				Key      string
				ETag     string
			}{Location: "http://store.test/" + bucket + "/" + c.Key, Bucket: bucket, Key: c.Key, ETag: `"3858f62230ac3c915f300c664312c11f-2"`})
		},
		WriteAbort: func(w http.ResponseWriter, _ Call) { w.WriteHeader(http.StatusNoContent) },
	}
}

// writeXML answers 200 with doc as an XML document.
func writeXML(w http.ResponseWriter, doc any) {
	w.Header().Set("Content-Type", "application/xml")
	// a client that went away fails its own check
	_, _ = w.Write([]byte(xml.Header))
	_ = xml.NewEncoder(w).Encode(doc)
}
