package azure

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-presign/presign/signers"
)

// azureTestKey is Azurite's well-known development account key.
const azureTestKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

func newTestAzure(t testing.TB, a *Azure) *Azure {
	t.Helper()
	if err := a.Provision(caddy.Context{}); err != nil {
		t.Fatal(err)
	}
	return a
}

// TestAzureProvision: the origin is the account's blob service (or the
// endpoint, with its path) and the container; names, endpoints and keys
// Azure would refuse are refused at start, and an endpoint's user info is
// never shown.
func TestAzureProvision(t *testing.T) {
	for _, c := range []struct {
		a      Azure
		origin string
	}{
		{Azure{Account: "media01", Container: "photos", AccountKey: azureTestKey}, "https://media01.blob.core.windows.net/photos"},
		{
			Azure{Account: "devstoreaccount1", Container: "media", AccountKey: azureTestKey, Endpoint: "http://127.0.0.1:10000/devstoreaccount1/"},
			"http://127.0.0.1:10000/devstoreaccount1/media",
		},
	} {
		a := newTestAzure(t, &c.a)
		if a.Origin() != c.origin {
			t.Errorf("origin %q, want %q", a.Origin(), c.origin)
		}
		if a.DefaultExpires() != signers.DefaultExpires {
			t.Errorf("default expires %s, want %s", a.DefaultExpires(), signers.DefaultExpires)
		}
	}
	for _, c := range []struct {
		a    Azure
		want string
	}{
		{Azure{Account: "Media", Container: "photos", AccountKey: azureTestKey}, "must be a storage account name"},
		{Azure{Account: "media01", Container: "a--b", AccountKey: azureTestKey}, "must be a container name"},
		{Azure{Account: "media01", Container: "photos", AccountKey: azureTestKey, Endpoint: "ftp://x"}, "is not an http(s) URL"},
		{Azure{Account: "media01", Container: "photos", AccountKey: azureTestKey, Endpoint: "https://u:hunter2@h/?q"}, "without query"},
		{Azure{Account: "media01", Container: "photos", AccountKey: azureTestKey, Endpoint: "https://h/a/../b"}, "the path must be clean"},
		{Azure{Account: "media01", Container: "photos", AccountKey: "not base64!"}, "is not a storage account key"},
		{Azure{Account: "media01", Container: "photos", AccountKey: azureTestKey, Expires: caddy.Duration(1500 * time.Millisecond)}, "whole seconds"},
	} {
		err := c.a.Provision(caddy.Context{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.a, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error shows the endpoint's password: %v", err)
		}
	}
}

// TestAzureCheckRule: Azure serves GET, HEAD, PUT and DELETE with the download
// overrides, refuses POST and the options of other kinds, naming the kinds
// that serve them.
func TestAzureCheckRule(t *testing.T) {
	a := newTestAzure(t, &Azure{Account: "media01", Container: "photos", AccountKey: azureTestKey})
	for _, c := range []struct {
		methods []string
		o       signers.Options
		want    string // "": accepted
	}{
		{[]string{"GET", "HEAD", "PUT", "DELETE"}, signers.Options{}, ""},
		{[]string{"DELETE"}, signers.Options{ContentType: "a/b"}, "content_disposition, content_type and cache_control shape downloads"},
		{[]string{"GET"}, signers.Options{ContentDisposition: "attachment", ContentType: "a/b", CacheControl: "no-cache"}, ""},
		{[]string{"POST"}, signers.Options{}, "method POST: Azure Blob Storage has no browser upload form"},
		{[]string{"PUT"}, signers.Options{MaxSize: 10}, "max_size is not an option of azure profiles"},
		{[]string{"GET"}, signers.Options{Cookies: true}, "cookies is not an option of azure profiles"},
		{[]string{"GET"}, signers.Options{Browse: true, BrowseTemplate: "t.html", CheckExists: caddy.Duration(time.Second)}, ""},
		{[]string{"PUT"}, signers.Options{CheckExists: caddy.Duration(time.Second)}, "browse and check_exists answer GET and HEAD"},
		{[]string{"GET"}, signers.Options{BrowseTemplate: "t.html"}, "browse_template is the page of browse"},
		{[]string{"GET"}, signers.Options{Uppy: true}, "uppy is not an option of azure profiles"},
	} {
		err := a.CheckRule(&signers.RuleInfo{Profile: "az", Methods: c.methods, Expires: time.Hour, Options: &c.o})
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%v %+v: %v, want %q", c.methods, c.o, err, c.want)
		}
	}
}

// TestAzureSignShape: a download's SAS reads the blob (sp=r) and carries
// the overrides; an upload's creates and writes it (sp=cw) and names the
// header Put Blob needs; a deletion's only deletes it (sp=d), without
// overrides or headers; all end at SignTime + Expires. (Azurite checks
// the signatures themselves: systest's TestAzure*.)
func TestAzureSignShape(t *testing.T) {
	a := newTestAzure(t, &Azure{Account: "media01", Container: "photos", AccountKey: azureTestKey})
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	get, err := a.Sign(context.Background(), signers.Request{
		Method: "GET", Key: "a b/c.pdf", SignTime: t0, Expires: time.Hour,
		Options: &signers.Options{ContentDisposition: "attachment"},
	})
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(get.URL)
	if err != nil || u.Host != "media01.blob.core.windows.net" || u.EscapedPath() != "/photos/a%20b/c.pdf" {
		t.Fatalf("URL %s: %v", get.URL, err)
	}
	q := u.Query()
	if q.Get("sp") != "r" || q.Get("sr") != "b" || q.Get("spr") != "https" || q.Get("se") != "2026-03-01T13:00:00Z" ||
		q.Get("rscd") != `attachment; filename="c.pdf"` || q.Get("sig") == "" || get.Headers != nil {
		t.Errorf("download SAS %s, headers %v", get.URL, get.Headers)
	}
	if !get.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("expires at %s", get.ExpiresAt)
	}
	put, err := a.Sign(context.Background(), signers.Request{Method: "PUT", Key: "up/x", SignTime: t0, Expires: time.Minute, Options: &signers.Options{}})
	if err != nil {
		t.Fatal(err)
	}
	pq, _ := url.ParseQuery(put.URL[strings.IndexByte(put.URL, '?')+1:])
	if pq.Get("sp") != "cw" || put.Headers["x-ms-blob-type"] != "BlockBlob" {
		t.Errorf("upload SAS %s, headers %v", put.URL, put.Headers)
	}
	del, err := a.Sign(context.Background(), signers.Request{
		Method: "DELETE", Key: "up/x", SignTime: t0, Expires: time.Minute,
		Options: &signers.Options{ContentType: "a/b"},
	})
	if err != nil {
		t.Fatal(err)
	}
	dq, _ := url.ParseQuery(del.URL[strings.IndexByte(del.URL, '?')+1:])
	if dq.Get("sp") != "d" || dq.Has("rsct") || del.Headers != nil || !del.ExpiresAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("delete SAS %s, headers %v, expires at %s", del.URL, del.Headers, del.ExpiresAt)
	}
	if _, err := a.Sign(context.Background(), signers.Request{Method: "POST", Key: "x", SignTime: t0, Expires: time.Minute, Options: &signers.Options{}}); err == nil {
		t.Error("a POST was signed")
	}
}

// TestAzurePutRefusesContentTypePrefix: a SAS cannot bind the type of an
// upload, so an azure PUT rule cannot promise content_type_prefix.
func TestAzurePutRefusesContentTypePrefix(t *testing.T) {
	err := new(Azure).CheckRule(&signers.RuleInfo{
		Profile: "a", Methods: []string{"GET", "PUT"}, Expires: time.Hour,
		Options: &signers.Options{ContentTypePrefix: signers.TypePrefixes{"image/"}},
	})
	if err == nil || !strings.Contains(err.Error(), "a SAS cannot bind the Content-Type") {
		t.Errorf("azure PUT rule with content_type_prefix: %v, want the reason", err)
	}
}
