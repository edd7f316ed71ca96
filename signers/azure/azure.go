package azure

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/credcache"
	"github.com/caddy-presign/presign/signers/internal/download"
	"github.com/caddy-presign/presign/signers/internal/endpoint"
	"github.com/caddy-presign/presign/signers/internal/escape"
	"github.com/caddy-presign/presign/signers/internal/store"
)

func init() {
	caddy.RegisterModule(Azure{})
}

// azureKind is the azure kind: its name, and the rule options it serves.
var azureKind = signers.RegisterKind("azure", 3,
	"content_disposition", "content_type", "cache_control", "browse", "browse_template", "check_exists")

// Azure is a profile for a container of Azure Blob Storage. It answers
// downloads (GET, HEAD), uploads (PUT, as Put Blob of a block blob) and
// deletions (DELETE) with a service SAS for exactly one blob: sr=b, sp=r
// for downloads, sp=cw for uploads and sp=d for deletions, spr=https on
// https endpoints, and rscd, rsct and rscc for the rule's
// content_disposition, content_type and cache_control.
//
// With account_key, the SAS is signed with the storage account's key. Without
// it, the Azure default credential chain (azidentity's
// DefaultAzureCredential: environment, workload identity, managed identity,
// Azure CLI) gets a user delegation key from the storage account, and the
// SAS is a user delegation SAS signed with it. The key is renewed ahead of
// its expiry, and a SAS never outlives the key it was signed with.
//
// Azure has no browser POST form: POST rules are refused at start. Put
// Blob needs the request header "x-ms-blob-type: BlockBlob", which a
// redirect cannot add: the client sends it (curl -T f -L -H
// 'x-ms-blob-type: BlockBlob'), and JSON answers name it in "headers".
//
// browse and check_exists are Caddy's own calls to the blob service (List
// Blobs, Get Blob Properties: azure_store.go), each with a short-lived SAS
// that Caddy signs for itself with the same key: sp=l on the container,
// sp=r on the blob.
type Azure struct {
	// The storage account's name, e.g. "mystorageaccount" (3 to 24
	// lower-case letters and digits). Required.
	Account string `json:"account,omitempty"`

	// The container's name, e.g. "media". Required.
	Container string `json:"container,omitempty"`

	// The storage account's access key (base64, as the portal shows it).
	// Placeholders are expanded at start, so "{env.AZURE_STORAGE_KEY}"
	// keeps it out of the config. Without it the profile uses a user
	// delegation key from the Azure default credential chain; the identity
	// then needs the "Storage Blob Delegator" role on the account and a
	// data role on the container ("Storage Blob Data Reader", or
	// "Storage Blob Data Contributor" for uploads and deletions).
	AccountKey string `json:"account_key,omitempty"`

	// The blob service endpoint as an http(s) URL, with a path for
	// emulators that address accounts by path, e.g.
	// "http://127.0.0.1:10000/devstoreaccount1" for Azurite. Default:
	// "https://<account>.blob.core.windows.net".
	Endpoint string `json:"endpoint,omitempty"`

	// Default lifetime of the SAS; rules may override it. Default 15m.
	// With a user delegation key, at most 7 days (the key's own limit).
	Expires caddy.Duration `json:"expires,omitempty"`

	// Without account_key: how long a request waits for a user delegation
	// key that is not yet at hand before it is answered 503. Default 5s.
	CredentialsTimeout caddy.Duration `json:"credentials_timeout,omitempty"`

	// The deadline of each call Caddy makes itself to the blob service
	// (browse's List Blobs, check_exists's Get Blob Properties); a service
	// that does not answer in time gets 502. Default 10s.
	APITimeout caddy.Duration `json:"api_timeout,omitempty"`

	origin   string // scheme://host[/path]/container
	https    bool
	resource string                      // "/blob/<account>/<container>/", the SAS's canonical resource before the blob
	macs     *sync.Pool                  // HMAC-SHA256 under the account key; nil without it
	udk      *credcache.Cache[*azureUDK] // the user delegation key; nil with account_key
	api      *http.Client                // Caddy's own calls (browse, check_exists)
}

const (
	// azureSASVersion is the sv of every SAS, the version of the signing
	// scheme (the 2020-12-06 string-to-sign, with signedEncryptionScope).
	// Newer versions add fields to the user delegation string-to-sign.
	azureSASVersion = "2025-05-05"
	// azureUDKMaxExpires bounds SAS lifetimes with a user delegation key,
	// which Azure issues for at most 7 days.
	azureUDKMaxExpires = 7 * 24 * time.Hour
	azureTimeLayout    = "2006-01-02T15:04:05Z"
)

// CaddyModule returns the Caddy module information.
func (Azure) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  caddy.ModuleID(azureKind.ModuleID()),
		New: func() caddy.Module { return new(Azure) },
	}
}

// Provision expands placeholders, fills defaults and checks the profile.
// No user delegation key is fetched here: a credential source that is down
// at start makes requests answer 503 until it is back, and Caddy starts.
func (a *Azure) Provision(caddy.Context) error {
	signers.ExpandAll(&a.Account, &a.Container, &a.Endpoint)
	if !validAzureAccount(a.Account) {
		return fmt.Errorf("account %q must be a storage account name: 3 to 24 lower-case letters and digits", a.Account)
	}
	if !validAzureContainer(a.Container) {
		return fmt.Errorf("container %q must be a container name: 3 to 63 lower-case letters, digits and single '-', starting and ending with a letter or digit", a.Container)
	}
	base := "https://" + a.Account + ".blob.core.windows.net"
	if a.Endpoint != "" {
		u, err := url.Parse(a.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("endpoint %q is not an http(s) URL such as https://%s.blob.core.windows.net", endpoint.Shown(a.Endpoint), a.Account)
		}
		if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.User != nil {
			return fmt.Errorf("endpoint %q must be scheme://host[:port][/path], without query, fragment or user", endpoint.Shown(a.Endpoint))
		}
		path := strings.TrimRight(u.EscapedPath(), "/")
		if strings.Contains(path, "//") || strings.Contains(path, "/./") || strings.Contains(path, "/../") ||
			strings.HasSuffix(path, "/.") || strings.HasSuffix(path, "/..") {
			return fmt.Errorf("endpoint %q: the path must be clean", a.Endpoint)
		}
		base = u.Scheme + "://" + strings.ToLower(u.Host) + path
	}
	a.https = strings.HasPrefix(base, "https://")
	a.origin = base + "/" + a.Container
	a.resource = "/blob/" + a.Account + "/" + a.Container + "/"

	if a.Expires == 0 {
		a.Expires = caddy.Duration(signers.DefaultExpires)
	}
	if a.CredentialsTimeout == 0 {
		a.CredentialsTimeout = caddy.Duration(5 * time.Second)
	}
	if a.CredentialsTimeout < 0 {
		return errors.New("credentials_timeout must be positive")
	}
	if err := store.FillAPITimeout(&a.APITimeout); err != nil {
		return err
	}
	a.api = &http.Client{Transport: http.DefaultTransport}

	if a.AccountKey == "" {
		if err := signers.CheckExpires(time.Duration(a.Expires), azureUDKMaxExpires, "the user delegation key's"); err != nil {
			return err
		}
		src, err := newAzureUDKCache(base, time.Duration(a.CredentialsTimeout), time.Duration(a.Expires))
		if err != nil {
			return err
		}
		a.udk = src
		return nil
	}
	if err := signers.CheckExpires(time.Duration(a.Expires), 0, "the"); err != nil {
		return err
	}
	secret := signers.Expand(a.AccountKey)
	if secret == "" {
		return errors.New("account_key expanded to an empty value (is its placeholder's variable or file set?)")
	}
	key, err := base64.StdEncoding.DecodeString(secret)
	if err != nil || len(key) == 0 {
		return errors.New("account_key is not a storage account key: the base64 value of the account's Access keys")
	}
	a.macs = &sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}
	return nil
}

// validAzureAccount accepts storage account names: 3 to 24 lower-case
// letters and digits.
func validAzureAccount(s string) bool {
	if len(s) < 3 || len(s) > 24 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// validAzureContainer accepts container names: 3 to 63 lower-case letters,
// digits and '-', beginning and ending with a letter or digit, without
// "--".
func validAzureContainer(s string) bool {
	if len(s) < 3 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' || strings.Contains(s, "--") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Origin implements Signer.
func (a *Azure) Origin() string { return a.origin }

// DefaultExpires implements Signer.
func (a *Azure) DefaultExpires() time.Duration { return time.Duration(a.Expires) }

// CheckRule implements Signer: GET, HEAD, PUT and DELETE; with a user
// delegation key, lifetimes of at most 7 days (the key's own limit).
func (a *Azure) CheckRule(r *signers.RuleInfo) error {
	for _, m := range r.Methods {
		if m == http.MethodPost {
			return errors.New("method POST: Azure Blob Storage has no browser upload form; use PUT")
		}
		if m == http.MethodPut && len(r.Options.ContentTypePrefix) > 0 {
			return errors.New("content_type_prefix cannot hold on an azure PUT rule: a SAS cannot bind the Content-Type of what is uploaded, so any type could be stored")
		}
	}
	var max time.Duration
	if a.udk != nil {
		max = azureUDKMaxExpires
	}
	if err := r.Check(azureKind, max); err != nil {
		return err
	}
	return r.CheckStore()
}

// Sign implements Signer.
func (a *Azure) Sign(ctx context.Context, req signers.Request) (*signers.Signed, error) {
	r := &req
	perm := "r"
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPut:
		perm = "cw"
	case http.MethodDelete:
		perm = "d"
	default:
		return nil, fmt.Errorf("azure signs GET, HEAD, PUT and DELETE, not %s", r.Method)
	}
	expiresAt := r.SignTime.Add(r.Expires)
	in := azureSAS{perm: perm, key: r.Key, expiry: expiresAt}
	if perm == "r" {
		in.cacheControl, in.contentType = r.Options.CacheControl, r.Options.ContentType
		if r.Options.ContentDisposition != "" {
			in.disposition = download.ContentDisposition(r.Options.ContentDisposition, r.Key)
		}
	}
	macs, err := a.keyFor(ctx, &in, r.SignTime)
	if err != nil {
		return nil, err
	}
	s := &signers.Signed{URL: a.sasURL(&in, macs), ExpiresAt: in.expiry}
	if r.Method == http.MethodPut {
		s.Headers = azurePutHeaders
	}
	return s, nil
}

// keyFor returns the MACs to sign in with: the account key's, or else the
// user delegation key's, which it adds to in. A SAS dies with its key: in's
// expiry is cut to the key's, and a key that expires by signTime is an
// ErrCredentials.
func (a *Azure) keyFor(ctx context.Context, in *azureSAS, signTime time.Time) (*sync.Pool, error) {
	if a.udk == nil {
		return a.macs, nil
	}
	k, err := a.udk.Get(ctx)
	if err != nil {
		return nil, err
	}
	if k.expiry.Before(in.expiry) {
		if !k.expiry.After(signTime) {
			return nil, fmt.Errorf("%w: the user delegation key expires at %s, before the signing time", signers.ErrCredentials, k.expiry.Format(time.RFC3339))
		}
		in.expiry = k.expiry
	}
	in.udk = k
	return &k.macs, nil
}

// azurePutHeaders are the headers a client must send with an upload: Put
// Blob refuses a request without the blob type. Shared by every answer.
var azurePutHeaders = map[string]string{"x-ms-blob-type": "BlockBlob"}

// azureSAS is one SAS to sign.
type azureSAS struct {
	perm                     string // "r", "cw" or "d"; "l" with container
	key                      string // the blob's name; "" with container
	container                bool   // a container SAS (sr=c), for Caddy's own listings
	expiry                   time.Time
	cacheControl             string // rscc
	disposition, contentType string // rscd, rsct
	udk                      *azureUDK
}

// azureScratch is the working memory of a signature, pooled.
type azureScratch struct {
	sts, url []byte
	sum      [sha256.Size]byte
	sig      [44]byte // base64 of the HMAC-SHA256
}

var azureScratchPool = sync.Pool{New: func() any {
	return &azureScratch{sts: make([]byte, 0, 512), url: make([]byte, 0, 1024)}
}}

// sasURL returns the blob's URL with the SAS for in, signed with a MAC from
// macs (HMAC-SHA256 under the account key or the user delegation key).
//
// The string to sign and the query are those of the Azure SDK for Go's
// sas.BlobSignatureValues.SignWithSharedKey (and SignWithUserDelegation, in
// the 2020-12-06 layout of the user delegation string-to-sign) for a blob
// SAS with this version, permissions, expiry, protocol and response
// headers: the query is url.Values.Encode of the parameters, sorted by
// name, each name and value form-encoded.
func (a *Azure) sasURL(in *azureSAS, macs *sync.Pool) string {
	s := azureScratchPool.Get().(*azureScratch)
	var se [20]byte
	expiry := in.expiry.UTC().AppendFormat(se[:0], azureTimeLayout)
	spr := ""
	if a.https {
		spr = "https"
	}

	// the string to sign
	b := append(s.sts[:0], in.perm...)
	b = append(b, "\n\n"...) // st: none
	b = append(b, expiry...)
	b = append(b, '\n')
	sr := "b"
	if in.container {
		b = append(b, a.resource[:len(a.resource)-1]...) // no "/" after the container
		sr = "c"
	} else {
		b = append(b, a.resource...)
		b = append(b, azureCanonicalKey(in.key)...)
	}
	b = append(b, '\n')
	if k := in.udk; k != nil {
		b = append(b, k.stsFields...) // skoid ... skv, then saoid, suoid, scid: none
	} else {
		b = append(b, '\n') // si: none
	}
	b = append(b, '\n') // sip: none
	b = append(b, spr...)
	b = append(b, "\n"+azureSASVersion+"\n"...) // sv
	b = append(b, sr...)
	b = append(b, "\n\n\n"...) // snapshot, ses
	b = append(b, in.cacheControl...)
	b = append(b, '\n')
	b = append(b, in.disposition...)
	b = append(b, "\n\n\n"...) // rsce, rscl
	b = append(b, in.contentType...)
	s.sts = b

	mac := macs.Get().(hash.Hash)
	mac.Reset()
	mac.Write(b)
	sum := mac.Sum(s.sum[:0])
	macs.Put(mac)
	base64.StdEncoding.Encode(s.sig[:], sum)

	// the URL: the query's parameters sorted by name
	u := append(s.url[:0], a.origin...)
	if !in.container {
		u = append(u, '/')
		u = append(u, escape.Path(in.key)...)
	}
	u = append(u, '?')
	sep := false
	param := func(name, value string) {
		if value == "" {
			return
		}
		if sep {
			u = append(u, '&')
		}
		sep = true
		u = append(u, name...)
		u = append(u, '=')
		u = escape.AppendForm(u, value)
	}
	param("rscc", in.cacheControl)
	param("rscd", in.disposition)
	param("rsct", in.contentType)
	if sep {
		u = append(u, '&')
	}
	u = append(u, "se="...)
	u = escape.AppendForm(u, expiry)
	u = append(u, "&sig="...)
	u = escape.AppendForm(u, s.sig[:])
	if k := in.udk; k != nil {
		u = append(u, k.query...)
	}
	u = append(u, "&sp="...)
	u = append(u, in.perm...)
	if spr != "" {
		u = append(u, "&spr="+"https"...)
	}
	u = append(u, "&sr="...)
	u = append(u, sr...)
	u = append(u, "&sv="+azureSASVersion...)
	out := string(u)
	s.url = u
	if cap(s.url) <= escape.MaxPooledBuf && cap(s.sts) <= escape.MaxPooledBuf {
		azureScratchPool.Put(s)
	}
	return out
}

// azureCanonicalKey is the blob's name in the SAS's canonical resource:
// as the Azure SDK writes it, with '\' as '/' (Azure reads a backslash in a
// blob name as a path separator).
func azureCanonicalKey(key string) string {
	if strings.IndexByte(key, '\\') < 0 {
		return key
	}
	return strings.ReplaceAll(key, "\\", "/")
}

// UnmarshalCaddyfile sets up the profile from Caddyfile tokens. The
// dispenser stands on the kind ("azure") of
//
//	profile <name> azure {
//		account <account>
//		...
//	}
func (a *Azure) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return signers.ProfileBlock(d, azureKind.Name, []signers.Subdirective{
		{Name: "account", Parse: func() error { return signers.OneArg(d, &a.Account) }},
		{Name: "container", Parse: func() error { return signers.OneArg(d, &a.Container) }},
		{Name: "account_key", Parse: func() error { return signers.SecretArg(d, &a.AccountKey) }},
		{Name: "endpoint", Parse: func() error { return signers.OneArg(d, &a.Endpoint) }},
		{Name: "expires", Parse: func() error { return signers.DurationArg(d, &a.Expires) }},
		{Name: "credentials_timeout", Parse: func() error { return signers.DurationArg(d, &a.CredentialsTimeout) }},
		{Name: "api_timeout", Parse: func() error { return signers.DurationArg(d, &a.APITimeout) }},
	})
}

// Interface guards
var (
	_ signers.Signer        = (*Azure)(nil)
	_ signers.Store         = (*Azure)(nil)
	_ caddy.Provisioner     = (*Azure)(nil)
	_ caddyfile.Unmarshaler = (*Azure)(nil)
)
