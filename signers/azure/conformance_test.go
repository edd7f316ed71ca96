package azure

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-presign/presign/internal/azureverify"
	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/credcache"
	"github.com/caddy-presign/presign/signers/signerstest"
)

// suiteUDK is the value of the suite's user delegation keys.
var suiteUDK = base64.StdEncoding.EncodeToString([]byte("a user delegation key of 32 byte"))

// suiteAzure provisions a profile of container "media" of Azurite's
// account at store, signed with the account key, or with user
// delegation keys from fetch when it is not nil.
func suiteAzure(t *testing.T, store string, fetch credcache.Fetch[*azureUDK]) signers.Signer {
	t.Helper()
	a := newTestAzure(t, &Azure{
		Account: "devstoreaccount1", Container: "media", AccountKey: azureTestKey,
		Endpoint: store + "/devstoreaccount1", APITimeout: caddy.Duration(3 * time.Second),
	})
	if fetch != nil {
		a.macs, a.udk = nil, credcache.New(fetch, time.Second, credcache.RefreshAhead)
	}
	return a
}

// udkFetch fetches a user delegation key that expires at expiry.
func udkFetch(expiry time.Time) credcache.Fetch[*azureUDK] {
	return func(context.Context) (*azureUDK, time.Time, error) {
		k, err := newAzureUDK(suiteUDK, azureUDKFields{
			SignedOid: "oid", SignedTid: "tid", SignedService: "b", SignedVersion: azureSASVersion,
			SignedStart: expiry.Add(-2 * time.Hour).Format(time.RFC3339), SignedExpiry: expiry.Format(time.RFC3339),
		})
		return k, expiry, err
	}
}

// suitePerm is the least permission of a SAS for each method.
var suitePerm = map[string]string{"GET": "r", "HEAD": "r", "PUT": "cw", "DELETE": "d"}

// TestConformance runs the suite of every kind against Azure, with the
// independent SAS verifier (azureverify) and a recording blob service;
// its expiring credentials are user delegation keys.
func TestConformance(t *testing.T) {
	key, _ := base64.StdEncoding.DecodeString(azureTestKey)
	udk, _ := base64.StdEncoding.DecodeString(suiteUDK)
	acct := azureverify.Account{Name: "devstoreaccount1", Base: "/devstoreaccount1", Container: "media", Key: key, UDK: udk}
	signerstest.Run(t, signerstest.Kind{
		Name: "azure",
		New:  func(t *testing.T, store string) signers.Signer { return suiteAzure(t, store, nil) },
		Verify: func(r signers.Request, s *signers.Signed, now time.Time) error {
			sas, err := acct.Check(s.URL, now)
			if err != nil {
				return err
			}
			if sas.Resource != "b" || sas.Blob != r.Key || sas.Perm != suitePerm[r.Method] {
				return fmt.Errorf("a SAS with sr=%s sp=%s for %q, not the least for %s %q", sas.Resource, sas.Perm, sas.Blob, r.Method, r.Key)
			}
			if r.Method == http.MethodPut && s.Headers["x-ms-blob-type"] != "BlockBlob" {
				return errors.New("a Put Blob without x-ms-blob-type")
			}
			return nil
		},
		Expiring: func(t *testing.T, expiry time.Time) signers.Signer {
			return suiteAzure(t, "http://127.0.0.1:9", udkFetch(expiry))
		},
		NoCredentials: func(t *testing.T, store string) signers.Signer {
			return suiteAzure(t, store, func(context.Context) (*azureUDK, time.Time, error) {
				return nil, time.Time{}, errors.New("get user delegation key: 403")
			})
		},
		Store: &signerstest.Wire{
			Call: func(r *http.Request) (signerstest.Call, error) {
				var c signerstest.Call
				sas, err := acct.Check("http://"+r.Host+r.URL.RequestURI(), time.Now())
				if err != nil {
					return c, err
				}
				q := r.URL.Query()
				switch {
				case r.Method == http.MethodGet && q.Get("restype") == "container" && q.Get("comp") == "list":
					c = signerstest.Call{Op: "list", Prefix: q.Get("prefix"), Token: q.Get("marker")}
					if sas.Perm != "l" || sas.Resource != "c" {
						err = fmt.Errorf("List Blobs with sp=%s sr=%s, want sp=l sr=c", sas.Perm, sas.Resource)
					}
				case r.Method == http.MethodHead:
					c = signerstest.Call{Op: "exists", Key: sas.Blob}
					if sas.Perm != "r" || sas.Resource != "b" {
						err = fmt.Errorf("Get Blob Properties with sp=%s sr=%s, want sp=r sr=b", sas.Perm, sas.Resource)
					}
				default:
					err = fmt.Errorf("not a call of browse or check_exists: %s %s", r.Method, r.URL.Path)
				}
				return c, err
			},
			WriteList:         writeBlobList,
			TokenIsTruncation: true,
			WriteExists: func(w http.ResponseWriter, exists bool) {
				if !exists {
					w.Header().Set("x-ms-error-code", "BlobNotFound")
					w.WriteHeader(http.StatusNotFound)
					return
				}
				w.Header().Set("ETag", `"0x8D"`)
			},
			AzureErrors: true,
			ListRefusals: []signerstest.RefusalCase{
				{Status: 400, Code: "OutOfRangeInput", Want: 400}, // a marker the service never issued
				{Status: 400, Code: "InvalidQueryParameterValue", Param: "marker", Want: 400},
				{Status: 400, Code: "OutOfRangeQueryParameterValue", Param: "prefix", Want: 400},
				{Status: 400, Code: "InvalidResourceName", Want: 400},
				{Status: 400, Code: "InvalidUri", Want: 400},
				{Status: 400, Code: "InvalidInput", Want: 400},
				{Status: 400, Code: "InvalidQueryParameterValue", Param: "se", Want: 502}, // the SAS's own
				{Status: 400, Code: "InvalidHeaderValue", Want: 502},
				{Status: 400, Code: "", Want: 502},
				{Status: 401, Code: "InvalidAuthenticationInfo", Want: 502},
				{Status: 403, Code: "AuthenticationFailed", Want: 502},
				{Status: 403, Code: "AuthorizationPermissionMismatch", Want: 502},
				{Status: 404, Code: "ContainerNotFound", Want: 502},
				{Status: 500, Code: "InternalError", Want: 502},
				{Status: 503, Code: "ServerBusy", Want: 502},
				{Status: 200, Want: 502}, // an HTML page: no listing
			},
			ExistsRefusals: []signerstest.RefusalCase{
				{Status: 200, Want: 200},
				{Status: 200, Want: 502}, // no ETag
				{Status: 404, Code: "BlobNotFound", Want: 404},
				{Status: 404, Code: "ContainerNotFound", Want: 502},
				{Status: 404, Code: "", Want: 502}, // not the service's answer
				{Status: 400, Code: "InvalidResourceName", Want: 400},
				{Status: 400, Code: "OutOfRangeInput", Want: 400},
				{Status: 403, Code: "AuthenticationFailed", Want: 502},
				{Status: 500, Code: "InternalError", Want: 502},
			},
		},
	})
}

// writeBlobList writes p as a List Blobs answer (EnumerationResults) of
// the container "media".
func writeBlobList(w http.ResponseWriter, _ signerstest.Call, p signerstest.Page) {
	type props struct {
		LastModified  string `xml:"Last-Modified"`
		ContentLength int64  `xml:"Content-Length"`
	}
	type blob struct {
		Name       string
		Properties props
	}
	type prefix struct{ Name string }
	doc := struct {
		XMLName    xml.Name `xml:"EnumerationResults"`
		Container  string   `xml:"ContainerName,attr"`
		Prefix     string
		MaxResults int
		Delimiter  string
		Blobs      []blob   `xml:"Blobs>Blob"`
		Prefixes   []prefix `xml:"Blobs>BlobPrefix"`
		NextMarker string
	}{Container: "media", Prefix: p.Prefix, MaxResults: 1000, Delimiter: "/", NextMarker: p.Next}
	for _, o := range p.Objects {
		doc.Blobs = append(doc.Blobs, blob{o.Key, props{o.ModTime.UTC().Format(http.TimeFormat), o.Size}})
	}
	for _, f := range p.Folders {
		doc.Prefixes = append(doc.Prefixes, prefix{f})
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Write([]byte(xml.Header))
	xml.NewEncoder(w).Encode(doc)
}
