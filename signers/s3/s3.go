package s3

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/awscreds"
	"github.com/caddy-presign/presign/signers/internal/credcache"
	"github.com/caddy-presign/presign/signers/internal/download"
	"github.com/caddy-presign/presign/signers/internal/endpoint"
	"github.com/caddy-presign/presign/signers/internal/escape"
	"github.com/caddy-presign/presign/signers/internal/urlcache"
)

func init() {
	caddy.RegisterModule(S3{})
}

// s3Kind is the s3 kind: its name, and the rule options it serves.
var s3Kind = signers.RegisterKind("s3", 1,
	"content_disposition", "content_type", "cache_control", "max_size", "content_type_prefix",
	"uppy", "browse", "browse_template", "check_exists")

// S3 is a profile for an S3 or S3-compatible bucket (AWS, MinIO,
// DigitalOcean Spaces, Cloudflare R2, Google Cloud Storage's S3
// interoperability, versitygw, ...). It presigns GET, HEAD, PUT and DELETE
// requests with SigV4 query authentication and browser uploads with an S3
// POST policy.
//
// Credentials come, in this order of preference, from access_key_id and
// secret_access_key (placeholders such as {env.X} and {file.P} work), from
// aws_profile in the shared config and credentials files, or from the AWS
// default chain (environment, shared files, web identity, ECS/EKS container
// endpoint, EC2 instance profile). role_arn assumes a role on top of any of
// them.
type S3 struct {
	// The bucket's name. Required.
	Bucket string `json:"bucket,omitempty"`

	// The bucket's region, e.g. "eu-central-1"; "auto" for Cloudflare R2,
	// "us-east-1" for most S3-compatible stores. Required.
	Region string `json:"region,omitempty"`

	// The endpoint of an S3-compatible store, as an http(s) URL with no
	// path, e.g. "https://nyc3.digitaloceanspaces.com" or
	// "http://127.0.0.1:9000". Default: AWS S3 in Region.
	Endpoint string `json:"endpoint,omitempty"`

	// Path-style URLs (https://endpoint/bucket/key) instead of
	// virtual-hosted ones (https://bucket.endpoint/key). Most self-hosted
	// stores (MinIO, versitygw) want it; buckets whose names hold dots need
	// it for HTTPS.
	PathStyle bool `json:"path_style,omitempty"`

	// The AWS credentials that sign: static keys (access_key_id,
	// secret_access_key, session_token), a profile of the shared config
	// files (aws_profile), or else the default chain; role_arn (with
	// external_id) assumes a role on top.
	awscreds.Config

	// Default lifetime of the URLs; rules may override it. Default 15m;
	// at most 7 days (SigV4's limit).
	Expires caddy.Duration `json:"expires,omitempty"`

	// How long a request waits for credentials that are not yet at hand
	// (first use, or after they expired and the provider is slow) before it
	// is answered 503. Default 5s.
	CredentialsTimeout caddy.Duration `json:"credentials_timeout,omitempty"`

	// The address Caddy uses for the S3 API calls it makes itself
	// (multipart uploads, listings, existence checks), when it must reach
	// the store at another address than browsers do (split DNS, an internal
	// endpoint): an http(s) URL with no path. Presigned URLs keep endpoint.
	// Default: endpoint.
	APIEndpoint string `json:"api_endpoint,omitempty"`

	// The deadline of each S3 API call Caddy makes itself, retries
	// included; a store that does not answer in time gets 502. Default 10s.
	APITimeout caddy.Duration `json:"api_timeout,omitempty"`

	// CredentialsProvider, when set by Go code that embeds the module,
	// replaces every credential option above. It is not part of the JSON
	// config.
	CredentialsProvider aws.CredentialsProvider `json:"-"`

	scheme string // "https" or "http"
	host   string // the URL's host[:port]
	prefix string // "/bucket" for path-style URLs, else ""
	origin string // scheme://host + prefix
	creds  *credcache.Cache[aws.Credentials]
	urls   *urlcache.Cache[awsKeys] // recent GET, HEAD, PUT and DELETE URLs
	keys   *v4KeyCache              // SigV4 signing keys derived from the credentials
	api    *s3.Client               // the S3 API, for the calls Caddy makes itself
}

// s3MaxExpires is SigV4's limit on a presigned URL's lifetime.
const s3MaxExpires = 7 * 24 * time.Hour

// CaddyModule returns the Caddy module information.
func (S3) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  caddy.ModuleID(s3Kind.ModuleID()),
		New: func() caddy.Module { return new(S3) },
	}
}

// Provision expands placeholders, fills defaults, checks the profile and
// builds its credential provider. No credentials are fetched here: a
// provider that is down at start makes requests answer 503 until it is back,
// and Caddy still starts.
func (s *S3) Provision(ctx caddy.Context) error {
	s.keys = new(v4KeyCache) // first: Caddy calls Cleanup even when Provision fails
	signers.ExpandAll(&s.Bucket, &s.Region, &s.Endpoint, &s.APIEndpoint)
	if s.Bucket == "" {
		return errors.New("bucket is required")
	}
	if s.Region == "" {
		return errors.New("region is required")
	}
	if s.Expires == 0 {
		s.Expires = caddy.Duration(signers.DefaultExpires)
	}
	if err := signers.CheckExpires(time.Duration(s.Expires), s3MaxExpires, "the"); err != nil {
		return err
	}
	if s.CredentialsTimeout == 0 {
		s.CredentialsTimeout = caddy.Duration(5 * time.Second)
	}
	if s.CredentialsTimeout < 0 {
		return errors.New("credentials_timeout must be positive")
	}
	if err := s.buildOrigin(); err != nil {
		return err
	}
	provider := s.CredentialsProvider
	if provider == nil {
		var err error
		provider, err = s.Provider(ctx, s.Region, time.Duration(s.CredentialsTimeout))
		if err != nil {
			return err
		}
	}
	s.creds = credcache.New(awscreds.Fetch(provider), time.Duration(s.CredentialsTimeout), min(credcache.RefreshAhead, time.Duration(s.Expires)))
	s.urls = urlcache.New[awsKeys]()
	return s.provisionAPI()
}

// Cleanup forgets the signing keys derived from the profile's secrets. Caddy
// calls it when a config reload removes the profile.
func (s *S3) Cleanup() error {
	s.keys.clear()
	return nil
}

// s3ExampleEndpoint is the example of an S3 endpoint in errors.
const s3ExampleEndpoint = "https://s3.example.com"

// buildOrigin works out the scheme, host and path prefix of every URL.
func (s *S3) buildOrigin() error {
	s.scheme, s.host = "https", "s3."+s.Region+".amazonaws.com"
	if s.Endpoint != "" {
		var err error
		if s.scheme, s.host, err = endpoint.Parse("endpoint", s.Endpoint, s3ExampleEndpoint, false); err != nil {
			return err
		}
	}
	if !endpoint.ValidBucket(s.Bucket) {
		return fmt.Errorf("bucket %q is not a valid bucket name (3 to 63 lower-case letters, digits, '.', '-' and '_')", s.Bucket)
	}
	if s.PathStyle {
		s.prefix = "/" + s.Bucket
	} else {
		if s.scheme == "https" && strings.Contains(s.Bucket, ".") {
			return fmt.Errorf("bucket %q has dots: virtual-hosted HTTPS URLs would fail the certificate check; add path_style", s.Bucket)
		}
		s.host = s.Bucket + "." + s.host
	}
	s.origin = s.scheme + "://" + s.host + s.prefix
	return nil
}

// Origin implements Signer.
func (s *S3) Origin() string { return s.origin }

// DefaultExpires implements Signer.
func (s *S3) DefaultExpires() time.Duration { return time.Duration(s.Expires) }

// CheckRule implements Signer. S3 presigns every method a rule can have.
func (s *S3) CheckRule(r *signers.RuleInfo) error {
	if err := r.Check(s3Kind, s3MaxExpires); err != nil {
		return err
	}
	return r.CheckStore()
}

// Sign implements Signer.
func (s *S3) Sign(ctx context.Context, req signers.Request) (*signers.Signed, error) {
	r := &req
	creds, expires, expiresAt, err := s.credsFor(ctx, r)
	if err != nil {
		return nil, err
	}
	if r.Method == "POST" {
		return s.signPOST(r, creds, expiresAt)
	}
	signSec, expSec := r.SignTime.Unix(), int64(expires/time.Second)
	e, cacheHash, admit := s.urls.Lookup(r, signSec, expSec, awsKeysOf(&creds), expiresAt)
	if e != nil {
		return &signers.Signed{URL: e.URL, ExpiresAt: e.ExpiresAt}, nil
	}
	in := s.v4Input(r.Method, r.Key, creds, r.SignTime, expSec)
	in.ContentType = r.ContentType
	if r.Method == "GET" || r.Method == "HEAD" {
		in.Query = download.ResponseOverrides(r.Options, r.Key)
	}
	u, err := presignV4(s.keys, &in)
	if err != nil {
		return nil, fmt.Errorf("presigning %s: %v", r.Method, err)
	}
	if !admit {
		return &signers.Signed{URL: u, ExpiresAt: expiresAt, Headers: signers.ContentTypeHeader(r.ContentType)}, nil
	}
	return s.urls.Add(cacheHash, r, signSec, expSec, awsKeysOf(&creds), u, expiresAt), nil
}

// awsKeys are what identifies the credentials a URL was signed with, in the
// URL cache: the access key, the secret and the session token.
type awsKeys struct{ id, secret, token string }

func awsKeysOf(c *aws.Credentials) awsKeys {
	return awsKeys{c.AccessKeyID, c.SecretAccessKey, c.SessionToken}
}

// v4Input is what SigV4 signs of a request for key with method: the
// profile's scheme, host, path prefix and region, the credentials, the
// signing time and the lifetime in seconds; the caller adds the query.
func (s *S3) v4Input(method, key string, creds aws.Credentials, signTime time.Time, expSec int64) v4Input {
	return v4Input{
		Method:      method,
		Scheme:      s.scheme,
		Host:        s.host,
		EscapedPath: s.prefix + "/" + escape.Path(key),
		Region:      s.Region,
		Service:     "s3",
		Creds:       creds,
		SignTime:    signTime,
		Expires:     expSec,
	}
}

// credsFor returns the credentials to sign r with, and the URL's lifetime
// and expiry: r's, cut to the credentials' own expiry when that comes first.
func (s *S3) credsFor(ctx context.Context, r *signers.Request) (creds aws.Credentials, expires time.Duration, expiresAt time.Time, err error) {
	creds, err = s.creds.Get(ctx)
	if err != nil {
		return creds, 0, expiresAt, err
	}
	expires, expiresAt = r.Expires, r.SignTime.Add(r.Expires)
	if creds.CanExpire && creds.Expires.Before(expiresAt) {
		// the URL dies with the credentials: say so, and sign accordingly
		expiresAt = creds.Expires.Truncate(time.Second)
		expires = expiresAt.Sub(r.SignTime)
		if expires < time.Second {
			return creds, 0, expiresAt, fmt.Errorf("%w: they expire at %s, before the signing time", signers.ErrCredentials, creds.Expires.UTC().Format(time.RFC3339))
		}
	}
	return creds, expires, expiresAt, nil
}

// UnmarshalCaddyfile sets up the profile from Caddyfile tokens. The
// dispenser stands on the kind ("s3") of
//
//	profile <name> s3 {
//		bucket <bucket>
//		...
//	}
func (s *S3) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return signers.ProfileBlock(d, s3Kind.Name, append(append([]signers.Subdirective{
		{Name: "bucket", Parse: func() error { return signers.OneArg(d, &s.Bucket) }},
		{Name: "region", Parse: func() error { return signers.OneArg(d, &s.Region) }},
		{Name: "endpoint", Parse: func() error { return signers.OneArg(d, &s.Endpoint) }},
		{Name: "path_style", Parse: func() error { return signers.FlagArg(d, &s.PathStyle) }},
	}, s.Subdirectives(d)...), []signers.Subdirective{
		{Name: "expires", Parse: func() error { return signers.DurationArg(d, &s.Expires) }},
		{Name: "credentials_timeout", Parse: func() error { return signers.DurationArg(d, &s.CredentialsTimeout) }},
		{Name: "api_endpoint", Parse: func() error { return signers.OneArg(d, &s.APIEndpoint) }},
		{Name: "api_timeout", Parse: func() error { return signers.DurationArg(d, &s.APITimeout) }},
	}...))
}

// Interface guards
var (
	_ signers.Signer        = (*S3)(nil)
	_ signers.Store         = (*S3)(nil)
	_ caddy.Provisioner     = (*S3)(nil)
	_ caddy.CleanerUpper    = (*S3)(nil)
	_ caddyfile.Unmarshaler = (*S3)(nil)
)
