package gcs

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/download"
	"github.com/caddy-presign/presign/signers/internal/endpoint"
	"github.com/caddy-presign/presign/signers/internal/escape"
	"github.com/caddy-presign/presign/signers/internal/remote"
	"github.com/caddy-presign/presign/signers/internal/urlcache"
)

func init() {
	caddy.RegisterModule(GCS{})
}

// gcsKind is the gcs kind: its name, and the rule options it serves.
var gcsKind = signers.RegisterKind("gcs", 4,
	"content_disposition", "content_type", "max_size", "content_type_prefix",
	"browse", "browse_template", "check_exists")

// GCS is a profile for a Google Cloud Storage bucket, signed natively: V4
// signatures (GOOG4-RSA-SHA256) with a service account's private key. It
// presigns GET, HEAD, PUT and DELETE as signed URLs (downloads with
// response-content-disposition and response-content-type) and browser
// uploads as a V4 POST policy form. It lists folders (browse) and checks
// objects (check_exists) through the XML API, each request V4-signed in its
// query string with the same key (gcs_store.go).
//
// The key comes from service_account_file or service_account, or else from
// Application Default Credentials when they are a service account key
// file (GOOGLE_APPLICATION_CREDENTIALS, or gcloud's
// application_default_credentials.json). Without a key, service_account
// <email> signs as that account through the IAM Credentials API's signBlob
// (gcs_iam.go), with the token of the identity Caddy runs as (a user
// login, impersonation, the metadata server of GCE, GKE or Cloud Run):
// the same signature, made by a key Google keeps. Credentials without a
// key and no service_account email cannot sign: Caddy refuses to start.
//
// An RSA signature costs about a millisecond, a signBlob call a network
// round trip: signed URLs are kept in a small lock-free cache, so that a
// hot key (with `stable`, for a whole window) is signed once.
type GCS struct {
	// The bucket's name. Required.
	Bucket string `json:"bucket,omitempty"`

	// A service account key file (JSON, as the console or `gcloud iam
	// service-accounts keys create` writes it). Exactly one of
	// service_account_file and service_account, or neither for Application
	// Default Credentials.
	ServiceAccountFile string `json:"service_account_file,omitempty"`

	// The service account key file's content (JSON), or a service
	// account's email to sign as without a key: Caddy then signs through
	// the IAM Credentials API's signBlob (permission
	// iam.serviceAccounts.signBlob on that account) with the OAuth token
	// of the identity it runs as: Application Default Credentials (a
	// user's login, impersonation, a key file), else the metadata server
	// of GCE, GKE or Cloud Run (GCE_METADATA_HOST honoured). Unless it is
	// JSON already, placeholders are expanded at start, so
	// "{env.GCS_SA_JSON}" keeps a key out of the config.
	ServiceAccount string `json:"service_account,omitempty"`

	// With service_account an email: the IAM Credentials API, as an
	// http(s) URL without path. Default
	// "https://iamcredentials.googleapis.com".
	IAMEndpoint string `json:"iam_endpoint,omitempty"`

	// With service_account an email: the deadline of each signBlob call,
	// the wait for the identity's token included; a request whose
	// signature does not come in time is answered 503. Default 5s.
	IAMTimeout caddy.Duration `json:"iam_timeout,omitempty"`

	// The endpoint as an http(s) URL without path: the storage service
	// (default "https://storage.googleapis.com"), or with url_style
	// bucket_bound the bucket's own host (a CNAME or load balancer bound
	// to the bucket), e.g. "https://media.example.com".
	Endpoint string `json:"endpoint,omitempty"`

	// How URLs address the bucket: "path" (default: endpoint/bucket/key),
	// "virtual_hosted" (bucket.endpoint/key) or "bucket_bound"
	// (endpoint/key, the endpoint being the bucket's own host).
	URLStyle string `json:"url_style,omitempty"`

	// Default lifetime of the URLs and forms; rules may override it.
	// Default 15m; at most 7 days (V4 signing's limit).
	Expires caddy.Duration `json:"expires,omitempty"`

	// The deadline of each call Caddy makes to the store itself (browse's
	// listings, check_exists's checks), sent to endpoint as signed URLs.
	// Default 10s.
	APITimeout caddy.Duration `json:"api_timeout,omitempty"`

	scheme     string                    // "https" or "http"
	host       string                    // the URL's host[:port]
	signedHost string                    // host as signed: without a default port
	prefix     string                    // "/bucket" for path-style URLs, else ""
	origin     string                    // scheme://host + prefix
	email      string                    // the service account, X-Goog-Credential's first part
	key        *rsa.PrivateKey           // signs, unless iam does
	iam        *remote.Signer            // with service_account an email: IAM signBlob
	urls       *urlcache.Cache[struct{}] // recent GET, HEAD, PUT and DELETE URLs; the key never changes
	api        *http.Client              // the store's calls (gcs_store.go)
}

const (
	gcsDefaultEndpoint = "https://storage.googleapis.com"
	gcsAlgorithm       = "GOOG4-RSA-SHA256"
	gcsScopeSuffix     = "/auto/storage/goog4_request"
	gcsMaxExpires      = 7 * 24 * time.Hour
	gcsNeedsKey        = "signing needs a service-account key: give service_account_file or service_account, or point GOOGLE_APPLICATION_CREDENTIALS at a service account key file; or sign without a key, through IAM signBlob as an account: service_account <email>"
)

// CaddyModule returns the Caddy module information.
func (GCS) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  caddy.ModuleID(gcsKind.ModuleID()),
		New: func() caddy.Module { return new(GCS) },
	}
}

// Provision expands placeholders, fills defaults, checks the profile and
// loads the service account's key. Errors never hold key material.
func (g *GCS) Provision(ctx caddy.Context) error {
	signers.ExpandAll(&g.Bucket, &g.Endpoint, &g.URLStyle, &g.ServiceAccountFile, &g.IAMEndpoint)
	if g.Bucket == "" {
		return errors.New("bucket is required")
	}
	if !endpoint.ValidBucket(g.Bucket) {
		return fmt.Errorf("bucket %q is not a valid bucket name (3 to 63 lower-case letters, digits, '.', '-' and '_')", g.Bucket)
	}
	if g.Expires == 0 {
		g.Expires = caddy.Duration(signers.DefaultExpires)
	}
	if err := signers.CheckExpires(time.Duration(g.Expires), gcsMaxExpires, "the"); err != nil {
		return err
	}
	if err := g.buildOrigin(); err != nil {
		return err
	}
	if err := g.provisionCredentials(ctx); err != nil {
		return err
	}
	g.urls = urlcache.New[struct{}]()
	return g.provisionAPI()
}

// buildOrigin works out the scheme, hosts and path prefix of every URL.
func (g *GCS) buildOrigin() error {
	ep := g.Endpoint
	if ep == "" {
		if g.URLStyle == "bucket_bound" {
			return errors.New("url_style bucket_bound needs endpoint: the bucket's own host, e.g. https://media.example.com")
		}
		ep = gcsDefaultEndpoint
	}
	var err error
	if g.scheme, g.host, err = endpoint.Parse("endpoint", ep, gcsDefaultEndpoint, true); err != nil {
		return err
	}
	switch g.URLStyle {
	case "", "path":
		g.URLStyle = "path"
		g.prefix = "/" + g.Bucket
	case "virtual_hosted":
		if g.scheme == "https" && strings.Contains(g.Bucket, ".") {
			return fmt.Errorf("bucket %q has dots: virtual-hosted HTTPS URLs would fail the certificate check; use url_style path or bucket_bound", g.Bucket)
		}
		g.host = g.Bucket + "." + g.host
	case "bucket_bound":
	default:
		return fmt.Errorf("url_style must be path, virtual_hosted or bucket_bound, got %q", g.URLStyle)
	}
	g.signedHost = endpoint.SignedHostHeader(g.scheme, g.host)
	g.origin = g.scheme + "://" + g.host + g.prefix
	return nil
}

// Origin implements Signer.
func (g *GCS) Origin() string { return g.origin }

// DefaultExpires implements Signer.
func (g *GCS) DefaultExpires() time.Duration { return time.Duration(g.Expires) }

// CheckRule implements Signer. Cloud Storage presigns every method a rule
// can have.
func (g *GCS) CheckRule(r *signers.RuleInfo) error {
	if err := r.Check(gcsKind, gcsMaxExpires); err != nil {
		return err
	}
	return r.CheckStore()
}

// Sign implements Signer.
func (g *GCS) Sign(ctx context.Context, req signers.Request) (*signers.Signed, error) {
	r := &req
	expiresAt := r.SignTime.Add(r.Expires)
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete:
	case http.MethodPost:
		return g.signPOST(ctx, r, expiresAt)
	default:
		return nil, fmt.Errorf("cloud storage signs GET, HEAD, PUT, POST and DELETE, not %s", r.Method)
	}
	signSec, expSec := r.SignTime.Unix(), int64(r.Expires/time.Second)
	e, h, admit := g.urls.Lookup(r, signSec, expSec, struct{}{}, expiresAt)
	if e != nil {
		return &signers.Signed{URL: e.URL, ExpiresAt: e.ExpiresAt}, nil
	}
	in := gcsInput{
		Method:      r.Method,
		EscapedPath: g.prefix + "/" + escape.Path(r.Key),
		SignTime:    r.SignTime,
		Expires:     expSec,
		ContentType: r.ContentType,
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		in.Query = download.ResponseOverrides(r.Options, r.Key)
	}
	var keep *signers.Request
	if g.iam != nil {
		keep = r // signURL keeps the URL, within signBlob's flight
	}
	u, err := g.signURL(ctx, &in, keep)
	if err != nil {
		return nil, err
	}
	if !admit || keep != nil {
		return &signers.Signed{URL: u, ExpiresAt: expiresAt, Headers: signers.ContentTypeHeader(r.ContentType)}, nil
	}
	return g.urls.Add(h, r, signSec, expSec, struct{}{}, u, expiresAt), nil
}

// gcsInput is one V4 signed URL to make.
type gcsInput struct {
	Method      string
	EscapedPath string              // the URL's path, encoded by escape.Path; starts with "/"
	Query       []escape.QueryParam // extra parameters, neither name nor value encoded
	SignTime    time.Time           // whole seconds
	Expires     int64               // X-Goog-Expires, seconds
	ContentType string              // a Content-Type header to sign; "" for none
}

// gcsScratch is the working memory of a signed URL, pooled.
type gcsScratch struct {
	buf []byte
}

var gcsScratchPool = sync.Pool{New: func() any { return &gcsScratch{buf: make([]byte, 0, 1024)} }}

// signURL returns the V4 signed URL for in, as Google documents it
// ("Signing process" of V4 signatures): the canonical request (method,
// path, canonical query, the host header, UNSIGNED-PAYLOAD), its SHA-256 in
// the string to sign, and the string to sign's RSA signature (PKCS #1 v1.5,
// SHA-256) in hex as X-Goog-Signature.
//
// Through signBlob, requests for the same URL at once share one call (a
// flight keyed by the string to sign, which determines the URL), and the
// URL of r, when r is not nil and not a typed PUT, is looked up in the URL
// cache and kept there within that flight: a signBlob call is a network
// call, kept at once rather than from a key's second request on, and a
// request that comes as a call ends finds the URL cached rather than
// calling again. Without signBlob, r is nil: Sign keeps the URL itself.
func (g *GCS) signURL(ctx context.Context, in *gcsInput, r *signers.Request) (string, error) {
	s := gcsScratchPool.Get().(*gcsScratch)
	defer func() {
		if cap(s.buf) <= escape.MaxPooledBuf {
			gcsScratchPool.Put(s)
		}
	}()
	var arr [16]byte
	date := escape.AppendBasicTime(arr[:0], in.SignTime.UTC()) // 20060102T150405Z, as X-Goog-Date
	day := string(date[:8])
	var expires [20]byte
	signedHeaders := "host"
	if in.ContentType != "" {
		signedHeaders = "content-type;host"
	}
	params := append(make([]escape.QueryParam, 0, 5+len(in.Query)),
		escape.QueryParam{Name: "X-Goog-Algorithm", Value: gcsAlgorithm},
		escape.QueryParam{Name: "X-Goog-Credential", Value: g.email + "/" + day + gcsScopeSuffix},
		escape.QueryParam{Name: "X-Goog-Date", Value: string(date)},
		escape.QueryParam{Name: "X-Goog-Expires", Value: string(strconv.AppendInt(expires[:0], in.Expires, 10))},
		escape.QueryParam{Name: "X-Goog-SignedHeaders", Value: signedHeaders},
	)
	params = append(params, in.Query...)
	slices.SortStableFunc(params, func(a, b escape.QueryParam) int { return escape.CompareEncoded(a.Name, b.Name) })

	// the URL up to the signature; its query is the canonical query
	u := make([]byte, 0, len(g.scheme)+3+len(g.host)+len(in.EscapedPath)+600)
	u = append(u, g.scheme...)
	u = append(u, "://"...)
	u = append(u, g.host...)
	u = append(u, in.EscapedPath...)
	u = append(u, '?')
	qStart := len(u)
	for i, p := range params {
		if i > 0 {
			u = append(u, '&')
		}
		u = escape.Append(u, p.Name, &escape.Unreserved)
		u = append(u, '=')
		u = escape.Append(u, p.Value, &escape.Unreserved)
	}

	b := append(s.buf[:0], in.Method...)
	b = append(b, '\n')
	b = append(b, in.EscapedPath...)
	b = append(b, '\n')
	b = append(b, u[qStart:]...)
	b = append(b, '\n')
	if in.ContentType != "" {
		b = append(b, "content-type:"...)
		b = append(b, strings.Join(strings.Fields(in.ContentType), " ")...)
		b = append(b, '\n')
	}
	b = append(b, "host:"...)
	b = append(b, g.signedHost...)
	b = append(b, "\n\n"...)
	b = append(b, signedHeaders...)
	b = append(b, "\nUNSIGNED-PAYLOAD"...)
	crHash := sha256.Sum256(b)

	b = append(b[:0], gcsAlgorithm+"\n"...)
	b = append(b, date...)
	b = append(b, '\n')
	b = append(b, day...)
	b = append(b, gcsScopeSuffix...)
	b = append(b, '\n')
	b = hex.AppendEncode(b, crHash[:])
	s.buf = b

	if g.iam == nil {
		sig, err := g.sign(ctx, b)
		if err != nil {
			return "", err
		}
		return signedURL(u, sig), nil
	}
	v, err := g.iam.Once(string(b), func() (any, error) {
		var h uint64
		var signSec int64
		var expiresAt time.Time
		keep := r != nil && r.ContentType == ""
		if keep {
			signSec, expiresAt = r.SignTime.Unix(), r.SignTime.Add(r.Expires)
			var e *urlcache.Entry[struct{}]
			if e, h, _ = g.urls.Lookup(r, signSec, in.Expires, struct{}{}, expiresAt); e != nil {
				return e.URL, nil // kept by the flight that ended since Sign's look-up
			}
		}
		sig, err := g.iam.Sign(ctx, b)
		if err != nil {
			return nil, err
		}
		signed := signedURL(u, sig)
		if keep {
			g.urls.Add(h, r, signSec, in.Expires, struct{}{}, signed, expiresAt)
		}
		return signed, nil
	})
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

// signedURL is the URL u, up to its signature, with the signature sig.
func signedURL(u, sig []byte) string {
	u = append(u, "&X-Goog-Signature="...)
	return string(hex.AppendEncode(u, sig))
}

// gcsCondition is one condition of a POST policy: an exact form field
// (which the form then carries), an "eq" (which the form then carries too)
// or "starts-with" match of a field, or a content-length-range.
type gcsCondition struct {
	kind     gcsConditionKind
	field    string // the field's name, without '$'
	op       string // gcsMatch: "eq" or "starts-with"
	value    string // exact, or what op compares the field with
	min, max int64  // content-length-range
}

type gcsConditionKind uint8

const (
	gcsFieldEquals gcsConditionKind = iota
	gcsMatch
	gcsLengthRange
)

// signPOST builds a V4 POST policy form for exactly r.Key: a
// content-length-range condition with max_size, and an eq on Content-Type
// (a field of the form) with r.ContentType.
func (g *GCS) signPOST(ctx context.Context, r *signers.Request, expiresAt time.Time) (*signers.Signed, error) {
	var conds []gcsCondition
	if r.Options.MaxSize > 0 {
		conds = append(conds, gcsCondition{kind: gcsLengthRange, max: r.Options.MaxSize})
	}
	if r.ContentType != "" {
		conds = append(conds, gcsCondition{kind: gcsMatch, op: "eq", field: "Content-Type", value: r.ContentType})
	}
	fields, err := g.postPolicy(ctx, r.Key, r.SignTime, expiresAt, conds)
	if err != nil {
		return nil, err
	}
	return &signers.Signed{URL: g.origin + "/", ExpiresAt: expiresAt, Fields: fields}, nil
}

// postPolicy returns the form fields of a V4 POST policy for key: conds
// first, then the bucket, the key and the x-goog-* fields, as Google's
// client libraries write them. The policy is compact JSON with every
// non-ASCII character as a \u escape, in base64; x-goog-signature is the
// hex RSA-SHA256 signature of that base64.
func (g *GCS) postPolicy(ctx context.Context, key string, signTime, expiresAt time.Time, conds []gcsCondition) (map[string]string, error) {
	var arr [16]byte
	date := string(escape.AppendBasicTime(arr[:0], signTime.UTC()))
	credential := g.email + "/" + date[:8] + gcsScopeSuffix
	fields := map[string]string{
		"key":               key,
		"x-goog-algorithm":  gcsAlgorithm,
		"x-goog-credential": credential,
		"x-goog-date":       date,
	}
	field := func(b []byte, name, value string) []byte {
		b = append(b, '{')
		b = appendJSONASCII(b, name)
		b = append(b, ':')
		b = appendJSONASCII(b, value)
		return append(b, '}')
	}
	b := []byte(`{"conditions":[`)
	for _, c := range conds {
		switch c.kind {
		case gcsFieldEquals:
			b = field(b, c.field, c.value)
			fields[c.field] = c.value
		case gcsMatch:
			if c.op == "eq" {
				fields[c.field] = c.value
			}
			b = append(b, '[')
			b = appendJSONASCII(b, c.op)
			b = append(b, ',')
			b = appendJSONASCII(b, "$"+c.field)
			b = append(b, ',')
			b = appendJSONASCII(b, c.value)
			b = append(b, ']')
		case gcsLengthRange:
			b = append(b, `["content-length-range",`...)
			b = strconv.AppendInt(b, c.min, 10)
			b = append(b, ',')
			b = strconv.AppendInt(b, c.max, 10)
			b = append(b, ']')
		}
		b = append(b, ',')
	}
	b = field(b, "bucket", g.Bucket)
	b = append(b, ',')
	b = field(b, "key", key)
	b = append(b, ',')
	b = field(b, "x-goog-date", date)
	b = append(b, ',')
	b = field(b, "x-goog-credential", credential)
	b = append(b, ',')
	b = field(b, "x-goog-algorithm", gcsAlgorithm)
	b = append(b, `],"expiration":"`...)
	b = expiresAt.UTC().AppendFormat(b, "2006-01-02T15:04:05Z")
	b = append(b, `"}`...)
	policy := base64.StdEncoding.EncodeToString(b)
	sig, err := g.sign(ctx, []byte(policy))
	if err != nil {
		return nil, err
	}
	fields["policy"] = policy
	fields["x-goog-signature"] = hex.EncodeToString(sig)
	return fields, nil
}

// appendJSONASCII appends s as a JSON string in ASCII: '"', '\' and
// control characters escaped, every other non-ASCII character as \uXXXX
// (a UTF-16 surrogate pair above U+FFFF), HTML characters as they are.
func appendJSONASCII(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	u := func(b []byte, r rune) []byte {
		return append(b, '\\', 'u', hexDigits[r>>12&15], hexDigits[r>>8&15], hexDigits[r>>4&15], hexDigits[r&15])
	}
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r == '\n':
			b = append(b, `\n`...)
		case r == '\r':
			b = append(b, `\r`...)
		case r == '\t':
			b = append(b, `\t`...)
		case r < 0x20 || r == utf8.RuneError:
			b = u(b, r)
		case r < 0x80:
			b = append(b, byte(r))
		case r <= 0xffff:
			b = u(b, r)
		default:
			r -= 0x10000
			b = u(b, 0xd800+(r>>10))
			b = u(b, 0xdc00+(r&0x3ff))
		}
	}
	return append(b, '"')
}

// UnmarshalCaddyfile sets up the profile from Caddyfile tokens. The
// dispenser stands on the kind ("gcs") of
//
//	profile <name> gcs {
//		bucket <bucket>
//		...
//	}
func (g *GCS) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return signers.ProfileBlock(d, gcsKind.Name, []signers.Subdirective{
		{Name: "bucket", Parse: func() error { return signers.OneArg(d, &g.Bucket) }},
		{Name: "service_account_file", Parse: func() error { return signers.OneArg(d, &g.ServiceAccountFile) }},
		{Name: "service_account", Parse: func() error { return signers.SecretArg(d, &g.ServiceAccount) }},
		{Name: "endpoint", Parse: func() error { return signers.OneArg(d, &g.Endpoint) }},
		{Name: "url_style", Parse: func() error { return signers.OneArg(d, &g.URLStyle) }},
		{Name: "expires", Parse: func() error { return signers.DurationArg(d, &g.Expires) }},
		{Name: "api_timeout", Parse: func() error { return signers.DurationArg(d, &g.APITimeout) }},
		{Name: "iam_endpoint", Parse: func() error { return signers.OneArg(d, &g.IAMEndpoint) }},
		{Name: "iam_timeout", Parse: func() error { return signers.DurationArg(d, &g.IAMTimeout) }},
	})
}

// Interface guards
var (
	_ signers.Signer        = (*GCS)(nil)
	_ signers.Store         = (*GCS)(nil)
	_ signers.RemoteSigner  = (*GCS)(nil)
	_ caddy.Provisioner     = (*GCS)(nil)
	_ caddyfile.Unmarshaler = (*GCS)(nil)
)
