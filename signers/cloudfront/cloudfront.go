package cloudfront

import (
	"crypto"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/awscreds"
	"github.com/caddy-presign/presign/signers/internal/escape"
)

func init() {
	caddy.RegisterModule(CloudFront{})
}

// cloudFrontKind is the cloudfront kind: its name, and the rule options it serves.
var cloudFrontKind = signers.RegisterKind("cloudfront", 2,
	"resource", "bind_client_ip", "not_before", "cookies", "cookie_domain")

// CloudFront is a profile for an Amazon CloudFront distribution whose
// behaviors require signed URLs or signed cookies (a trusted key group). It
// signs downloads (GET, HEAD) with a canned policy, or with a custom policy
// when a rule sets resource (a URL pattern with * wildcards) or
// bind_client_ip; in cookies mode it answers with CloudFront's signed
// cookies and the unsigned URL.
//
// Keys: RSA (2048 bits or more) in PKCS#1 or PKCS#8 PEM, or ECDSA P-256 in
// PKCS#8 or SEC 1 PEM, which CloudFront has accepted since 2025. Both sign
// the policy's SHA-1 digest by default, the scheme CloudFront documents as
// its default (no Hash-Algorithm parameter), or its SHA-256 digest with
// hash_algorithm sha256 (Hash-Algorithm=SHA256 in URLs, a
// CloudFront-Hash-Algorithm cookie): RSA with PKCS #1 v1.5, ECDSA as a
// DER (ASN.1) signature, made deterministic with RFC 6979. Sources: the
// CloudFront Developer Guide, "Use Linux commands and OpenSSL for base64
// encoding and encryption" (`openssl sha1 -sign private_key.pem`, "the
// private key signature can be RSA 2048 or ECDSA 256") and "Code examples
// for creating a signature for a signed URL" (SHA-256: "include the
// Hash-Algorithm=SHA256 query parameter"), and AWS's own signer in the AWS
// SDK for Rust (aws-sdk-cloudfront-url-signer: ECDSA P-256 over SHA-1,
// DER-encoded, no extra parameter). With kms_key the key stays in AWS KMS,
// which signs each policy's SHA-256 (kms:Sign).
type CloudFront struct {
	// The distribution's domain: a host such as "d111111abcdef8.cloudfront.net"
	// or "cdn.example.com", or an https URL with a path prefix that goes
	// before every key, such as "https://cdn.example.com/media". Required.
	Domain string `json:"domain,omitempty"`

	// The ID of the CloudFront public key (in a trusted key group of the
	// distribution) that matches the private key, e.g. "K2JCJMDEHXQW5F".
	// Required.
	KeyPairID string `json:"key_pair_id,omitempty"`

	// A file holding the private key in PEM. Exactly one of private_key_file
	// and private_key is required.
	PrivateKeyFile string `json:"private_key_file,omitempty"`

	// The private key in PEM. Placeholders are expanded at start, so
	// "{env.CF_KEY}" or "{file./run/secrets/cf.pem}" keeps the key out of
	// the config; a PEM whose line breaks arrive as the two characters \n
	// (as environment variables often carry them) is accepted.
	PrivateKey string `json:"private_key,omitempty"`

	// The key in AWS KMS that signs the policies instead of a private key
	// Caddy holds: its ID, ARN, alias name ("alias/cloudfront") or alias
	// ARN. An asymmetric SIGN_VERIFY key of spec RSA_2048, RSA_3072,
	// RSA_4096 or ECC_NIST_P256, whose public key is the distribution's;
	// Caddy checks it at start (kms:GetPublicKey) and signs each policy's
	// SHA-256 with kms:Sign. Excludes private_key_file and private_key;
	// implies hash_algorithm sha256.
	KMSKey string `json:"kms_key,omitempty"`

	// The endpoint of a KMS-compatible server, as an http(s) URL with no
	// path. Default: AWS KMS in Region.
	KMSEndpoint string `json:"kms_endpoint,omitempty"`

	// The deadline of each KMS call, retries included; a request whose
	// signature KMS does not give in time is answered 503. Default 5s.
	KMSTimeout caddy.Duration `json:"kms_timeout,omitempty"`

	// With kms_key: the key's region, e.g. "eu-central-1". Default: the
	// region of the key's ARN.
	Region string `json:"region,omitempty"`

	// With kms_key: the AWS credentials that call KMS, as s3 profiles take
	// them: static keys (placeholders are expanded at start), a profile of
	// the shared config files, or else the default chain; role_arn (with
	// external_id) assumes a role on top.
	awscreds.Config

	// With kms_key: how long a request waits for credentials that are not
	// yet at hand before it is answered 503. Default 5s.
	CredentialsTimeout caddy.Duration `json:"credentials_timeout,omitempty"`

	// The digest the policies are signed over: "sha1" (the default, which
	// CloudFront has always taken) or "sha256", which URLs announce with
	// Hash-Algorithm=SHA256 and cookies with CloudFront-Hash-Algorithm.
	// Either works with RSA and ECDSA keys; kms_key implies sha256.
	HashAlgorithm string `json:"hash_algorithm,omitempty"`

	// Default lifetime of the URLs and cookies; rules may override it.
	// Default 1h. CloudFront sets no upper limit.
	Expires caddy.Duration `json:"expires,omitempty"`

	host   string // the URL's host[:port], lower case
	origin string // "https://" + host + path prefix
	keyID  string
	key    crypto.Signer
	hash   crypto.Hash // the policy's digest: SHA-1 or SHA-256
	// the value of Hash-Algorithm and of the CloudFront-Hash-Algorithm
	// cookie; "" for SHA-1, which CloudFront assumes without them
	hashParam string
	kms       *kmsSigner     // with kms_key; else key signs
	cache     *sigCache      // recent signatures
	ans       *cfAnswerCache // recent answers
}

const cfDefaultExpires = time.Hour

// CaddyModule returns the Caddy module information.
func (CloudFront) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  caddy.ModuleID(cloudFrontKind.ModuleID()),
		New: func() caddy.Module { return new(CloudFront) },
	}
}

// Provision expands placeholders, fills defaults, checks the profile and
// loads the key. Errors name the option at fault and never hold key
// material.
func (c *CloudFront) Provision(ctx caddy.Context) error {
	domain := signers.Expand(c.Domain)
	c.keyID = signers.Expand(c.KeyPairID)
	if domain == "" {
		return errors.New("domain is required: the distribution's host (d111111abcdef8.cloudfront.net) or https://host[/path]")
	}
	if c.keyID == "" {
		return errors.New("key_pair_id is required: the ID of the CloudFront public key, e.g. K2JCJMDEHXQW5F")
	}
	for i := 0; i < len(c.keyID); i++ {
		if b := c.keyID[i]; !('A' <= b && b <= 'Z' || 'a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '-' || b == '_') {
			return fmt.Errorf("key_pair_id %q: only letters and digits, as in K2JCJMDEHXQW5F", c.keyID)
		}
	}
	var err error
	if c.host, c.origin, err = parseCloudFrontDomain(domain); err != nil {
		return err
	}

	if err := c.provisionKey(ctx); err != nil {
		return err
	}
	if c.Expires == 0 {
		c.Expires = caddy.Duration(cfDefaultExpires)
	}
	if err := signers.CheckExpires(time.Duration(c.Expires), 0, "the"); err != nil {
		return err
	}
	c.cache = newSigCache(cfCacheSize)
	c.ans = newCFAnswerCache()
	return nil
}

// provisionKey sets up what signs the policies, and with which digest: the
// KMS key of kms_key, or the private key of private_key_file or
// private_key.
func (c *CloudFront) provisionKey(ctx caddy.Context) error {
	if c.KMSKey != "" {
		return c.provisionKMS(ctx)
	}
	if c.KMSEndpoint != "" || c.KMSTimeout != 0 || c.Region != "" || c.AnyCredentials() || c.CredentialsTimeout != 0 {
		return errors.New("kms_endpoint, kms_timeout, region, the AWS credential options and credentials_timeout go with kms_key only")
	}
	keyFile := signers.Expand(c.PrivateKeyFile)
	var data []byte
	var from string
	var err error
	switch {
	case c.PrivateKeyFile != "" && c.PrivateKey != "":
		return errors.New("private_key_file and private_key exclude each other: set one")
	case c.PrivateKeyFile != "":
		if keyFile == "" {
			return errors.New("private_key_file expanded to an empty path (is its placeholder's variable set?)")
		}
		from = "private_key_file " + keyFile
		if data, err = os.ReadFile(keyFile); err != nil {
			return fmt.Errorf("private_key_file: cannot read the key: %v", err)
		}
	case c.PrivateKey != "":
		from = "private_key"
		data = []byte(signers.Expand(c.PrivateKey))
		if len(data) == 0 {
			return errors.New("private_key expanded to an empty value (is its placeholder's variable or file set?)")
		}
	default:
		return errors.New("a private key is required: private_key_file <path>, private_key <PEM, e.g. {env.CF_KEY}> or kms_key <AWS KMS key>")
	}
	if c.key, err = parseCloudFrontKey(data); err != nil {
		return fmt.Errorf("%s: %v; %s", from, err, cfKeyFormats)
	}

	switch c.HashAlgorithm {
	case "", "sha1":
		c.HashAlgorithm, c.hash, c.hashParam = "sha1", crypto.SHA1, ""
	case "sha256":
		c.hash, c.hashParam = crypto.SHA256, "SHA256"
	default:
		return fmt.Errorf("hash_algorithm %q: sha1 or sha256", c.HashAlgorithm)
	}
	return nil
}

// parseCloudFrontDomain turns the domain option into the host and the
// origin ("https://" + host + path prefix) of every URL.
func parseCloudFrontDomain(domain string) (host, origin string, err error) {
	raw := domain
	if !strings.Contains(domain, "://") {
		domain = "https://" + domain
	}
	u, err := url.Parse(domain)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "", "", fmt.Errorf("domain %q is not a host or an https URL such as https://d111111abcdef8.cloudfront.net/prefix", raw)
	}
	if u.Scheme != "https" {
		return "", "", fmt.Errorf("domain %q: signed CloudFront URLs are https; write the host or https://host[/path]", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", "", fmt.Errorf("domain %q must be host or https://host[/path], without user, query or fragment", raw)
	}
	prefix := strings.TrimRight(u.EscapedPath(), "/")
	if prefix != "" && (path.Clean(prefix) != prefix || strings.ContainsAny(prefix, "*\\")) {
		return "", "", fmt.Errorf("domain %q: the path must be clean, without empty, '.' or '..' segments, '*' or '\\'", raw)
	}
	host = strings.ToLower(u.Host)
	return host, "https://" + host + prefix, nil
}

// Origin implements Signer.
func (c *CloudFront) Origin() string { return c.origin }

// DefaultExpires implements Signer.
func (c *CloudFront) DefaultExpires() time.Duration { return time.Duration(c.Expires) }

// CheckRule implements Signer. CloudFront sets no limit of its own on
// expires.
func (c *CloudFront) CheckRule(ri *signers.RuleInfo) error {
	for _, m := range ri.Methods {
		if m != http.MethodGet && m != http.MethodHead {
			return fmt.Errorf("method %s: CloudFront signs downloads only: GET, HEAD", m)
		}
	}
	if err := ri.Check(cloudFrontKind, 0); err != nil {
		return err
	}
	o := ri.Options
	if o.Resource != "" {
		if !validResource(o.Resource) {
			return fmt.Errorf("resource %q: only printable ASCII without spaces (percent-encode the rest)", o.Resource)
		}
		r := o.Resource
		if !strings.HasPrefix(r, "{") && !strings.HasPrefix(r, "https://") && !strings.HasPrefix(r, "http://") &&
			!strings.HasPrefix(r, "http*://") && !strings.HasPrefix(r, "*") {
			return fmt.Errorf("resource %q: a URL pattern such as https://%s/dir/*", o.Resource, c.host)
		}
		// CloudFront refuses a URL outside the policy's resource: refuse
		// a rule whose URLs surely are, where the pattern shows it
		start := c.origin + "/" + escape.Path(ri.KeyPrefix)
		covered := r[:strings.IndexAny(r+"*", "*?{")]
		if n := min(len(start), len(covered)); !strings.EqualFold(start[:n], covered[:n]) {
			return fmt.Errorf("resource %q covers only URLs that start with %q, but this rule's URLs start with %q, and CloudFront refuses them; "+
				"remove the part of the request path that is not in the object key with strip_prefix (or change key or resource)", o.Resource, covered, start)
		}
	}
	if o.CookieDomain != "" {
		if !o.Cookies {
			return errors.New("cookie_domain needs cookies")
		}
		d := strings.TrimPrefix(strings.ToLower(o.CookieDomain), ".")
		host := c.host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if !validCookieDomain(d) {
			return fmt.Errorf("cookies %s: not a domain name", o.CookieDomain)
		}
		if host != d && !strings.HasSuffix(host, "."+d) {
			return fmt.Errorf("cookies %s: browsers would not send these cookies to the distribution at %s; give %s or a parent domain of it", o.CookieDomain, host, host)
		}
	}
	return nil
}

func validCookieDomain(d string) bool {
	if d == "" || len(d) > 253 || strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") || strings.Contains(d, "..") {
		return false
	}
	for i := 0; i < len(d); i++ {
		if b := d[i]; !('a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '-' || b == '.') {
			return false
		}
	}
	return true
}

// validResource tells whether r can be a policy's Resource: printable
// ASCII, no space (CloudFront compares it with the URL as requested, where
// everything else is percent-encoded).
func validResource(r string) bool {
	if r == "" {
		return false
	}
	for i := 0; i < len(r); i++ {
		if r[i] <= ' ' || r[i] >= 0x7f {
			return false
		}
	}
	return true
}

// UnmarshalCaddyfile sets up the profile from Caddyfile tokens. The
// dispenser stands on the kind ("cloudfront") of
//
//	profile <name> cloudfront {
//		domain <host or https://host[/path]>
//		...
//	}
func (c *CloudFront) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return signers.ProfileBlock(d, cloudFrontKind.Name, append(append([]signers.Subdirective{
		{Name: "domain", Parse: func() error { return signers.OneArg(d, &c.Domain) }},
		{Name: "key_pair_id", Parse: func() error { return signers.OneArg(d, &c.KeyPairID) }},
		{Name: "private_key_file", Parse: func() error { return signers.OneArg(d, &c.PrivateKeyFile) }},
		{Name: "private_key", Parse: func() error {
			// never echo the tokens: an unquoted PEM spills its lines here
			if !d.NextArg() {
				return d.Err("private_key needs the PEM as one argument, e.g. {env.CF_KEY}")
			}
			c.PrivateKey = d.Val()
			if d.NextArg() {
				return d.Err("private_key takes one argument: quote a PEM given inline with backticks, or use {env.CF_KEY} or private_key_file")
			}
			return nil
		}},
		{Name: "kms_key", Parse: func() error { return signers.OneArg(d, &c.KMSKey) }},
		{Name: "kms_endpoint", Parse: func() error { return signers.OneArg(d, &c.KMSEndpoint) }},
		{Name: "kms_timeout", Parse: func() error { return signers.DurationArg(d, &c.KMSTimeout) }},
		{Name: "region", Parse: func() error { return signers.OneArg(d, &c.Region) }},
	}, c.Subdirectives(d)...), []signers.Subdirective{
		{Name: "credentials_timeout", Parse: func() error { return signers.DurationArg(d, &c.CredentialsTimeout) }},
		{Name: "hash_algorithm", Parse: func() error { return signers.OneArg(d, &c.HashAlgorithm) }},
		{Name: "expires", Parse: func() error { return signers.DurationArg(d, &c.Expires) }},
	}...))
}

// Interface guards
var (
	_ signers.Signer        = (*CloudFront)(nil)
	_ signers.Binder        = (*CloudFront)(nil)
	_ signers.Checker       = (*CloudFront)(nil)
	_ signers.RemoteSigner  = (*CloudFront)(nil)
	_ caddy.Provisioner     = (*CloudFront)(nil)
	_ caddyfile.Unmarshaler = (*CloudFront)(nil)
)
