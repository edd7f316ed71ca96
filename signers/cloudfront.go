package signers

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/cloudfront/sign"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func init() {
	caddy.RegisterModule(CloudFront{})
}

// CloudFront is a profile for an Amazon CloudFront distribution whose
// behaviors require signed URLs or signed cookies (a trusted key group). It
// signs downloads (GET, HEAD) with a canned policy, or with a custom policy
// when a rule sets resource (a URL pattern with * wildcards) or
// bind_client_ip; in cookies mode it answers with CloudFront's signed
// cookies and the unsigned URL.
//
// Keys: RSA (2048 bits or more) in PKCS#1 or PKCS#8 PEM, or ECDSA P-256 in
// PKCS#8 or SEC 1 PEM, which CloudFront has accepted since 2025. Both sign
// the policy's SHA-1 digest, the scheme CloudFront documents as its default
// (no Hash-Algorithm parameter): RSA with PKCS #1 v1.5, ECDSA as a DER
// (ASN.1) signature, made deterministic with RFC 6979. Sources: the
// CloudFront Developer Guide, "Use Linux commands and OpenSSL for base64
// encoding and encryption" (`openssl sha1 -sign private_key.pem`, "the
// private key signature can be RSA 2048 or ECDSA 256"; SHA-256 would need
// Hash-Algorithm=SHA256 or a CloudFront-Hash-Algorithm cookie), and AWS's
// own signer in the AWS SDK for Rust (aws-sdk-cloudfront-url-signer:
// ECDSA P-256 over SHA-1, DER-encoded, no extra parameter).
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

	// Default lifetime of the URLs and cookies; rules may override it.
	// Default 1h. CloudFront sets no upper limit.
	Expires caddy.Duration `json:"expires,omitempty"`

	host   string // the URL's host[:port], lower case
	origin string // "https://" + host + path prefix
	keyID  string
	key    crypto.Signer
	cache  *sigCache      // recent signatures
	ans    *cfAnswerCache // recent answers; nil: none
}

const (
	cfDefaultExpires = time.Hour
	// cfCacheSize bounds the signature cache: at most this many entries.
	cfCacheSize = 4096
	// cfKeyFormats is what every refused key is told.
	cfKeyFormats = "CloudFront needs an unencrypted RSA key of 2048 bits or more as PKCS#1 or PKCS#8 PEM, or an ECDSA P-256 key as PKCS#8 or SEC 1 PEM"
)

// CaddyModule returns the Caddy module information.
func (CloudFront) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  Namespace + ".cloudfront",
		New: func() caddy.Module { return new(CloudFront) },
	}
}

// Provision expands placeholders, fills defaults, checks the profile and
// loads the key. Errors name the option at fault and never hold key
// material.
func (c *CloudFront) Provision(caddy.Context) error {
	repl := caddy.NewReplacer()
	domain := strings.TrimSpace(repl.ReplaceAll(c.Domain, ""))
	c.keyID = strings.TrimSpace(repl.ReplaceAll(c.KeyPairID, ""))
	keyFile := strings.TrimSpace(repl.ReplaceAll(c.PrivateKeyFile, ""))
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

	var data []byte
	var from string
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
		data = []byte(strings.TrimSpace(repl.ReplaceAll(c.PrivateKey, "")))
		if len(data) == 0 {
			return errors.New("private_key expanded to an empty value (is its placeholder's variable or file set?)")
		}
	default:
		return errors.New("a private key is required: private_key_file <path> or private_key <PEM, e.g. {env.CF_KEY}>")
	}
	if c.key, err = parseCloudFrontKey(data); err != nil {
		return fmt.Errorf("%s: %v; %s", from, err, cfKeyFormats)
	}

	if c.Expires == 0 {
		c.Expires = caddy.Duration(cfDefaultExpires)
	}
	if err := checkExpires(time.Duration(c.Expires), 0, "the"); err != nil {
		return err
	}
	c.cache = newSigCache(cfCacheSize)
	c.ans = newCFAnswerCache()
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

// parseCloudFrontKey loads a PEM private key that CloudFront can verify
// signatures of. Its errors never quote the key.
func parseCloudFrontKey(data []byte) (crypto.Signer, error) {
	data = normalizePEM(data)
	var block *pem.Block
	for rest := data; ; {
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("not a PEM private key")
		}
		if block.Type != "EC PARAMETERS" { // `openssl ecparam -genkey` writes one ahead of the key
			break
		}
	}
	if _, encrypted := block.Headers["DEK-Info"]; encrypted || block.Type == "ENCRYPTED PRIVATE KEY" {
		return nil, errors.New("the key is encrypted; give it unencrypted (openssl pkcs8 -topk8 -nocrypt) and protect the file instead")
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("not a valid PKCS#1 RSA private key")
		}
		return checkRSAKey(k)
	case "EC PRIVATE KEY":
		k, err := x509.ParseECPrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("not a valid SEC 1 EC private key (or its curve is not supported)")
		}
		return checkECKey(k)
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("not a valid PKCS#8 private key (or its algorithm is not supported)")
		}
		switch k := k.(type) {
		case *rsa.PrivateKey:
			return checkRSAKey(k)
		case *ecdsa.PrivateKey:
			return checkECKey(k)
		default:
			return nil, fmt.Errorf("an %s key cannot sign for CloudFront", keyKind(k))
		}
	case "PUBLIC KEY", "RSA PUBLIC KEY", "CERTIFICATE":
		return nil, fmt.Errorf("this is a %s, not the private key", strings.ToLower(block.Type))
	case "OPENSSH PRIVATE KEY":
		return nil, errors.New("an OpenSSH key; convert it with ssh-keygen -p -m PKCS8 -f <file>")
	default:
		return nil, fmt.Errorf("a PEM block of type %q is not a private key CloudFront can use", block.Type)
	}
}

func keyKind(k any) string {
	switch k.(type) {
	case ed25519.PrivateKey:
		return "Ed25519"
	case *ecdh.PrivateKey:
		return "X25519 (ECDH)"
	}
	return fmt.Sprintf("%T", k)
}

func checkRSAKey(k *rsa.PrivateKey) (crypto.Signer, error) {
	if bits := k.N.BitLen(); bits < 2048 {
		return nil, fmt.Errorf("an RSA key of %d bits is too short", bits)
	}
	return k, nil
}

func checkECKey(k *ecdsa.PrivateKey) (crypto.Signer, error) {
	if k.Curve != elliptic.P256() {
		return nil, fmt.Errorf("an ECDSA key on %s, not P-256 (prime256v1)", k.Curve.Params().Name)
	}
	return deterministicECDSA{k}, nil
}

// deterministicECDSA signs with RFC 6979 (a nil random source), so that
// the same policy always gets the same signature, as with RSA PKCS #1 v1.5:
// `stable` URLs then agree across a fleet of instances, not only within
// one instance's signature cache.
type deterministicECDSA struct{ *ecdsa.PrivateKey }

func (k deterministicECDSA) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return k.PrivateKey.Sign(nil, digest, opts)
}

// normalizePEM repairs the two ways a PEM commonly arrives mangled from an
// environment variable: line breaks as the two characters \n, and line
// breaks turned into spaces (the whole PEM on one line).
func normalizePEM(b []byte) []byte {
	s := string(b)
	if strings.Contains(s, `\n`) {
		s = strings.ReplaceAll(s, `\r\n`, "\n")
		s = strings.ReplaceAll(s, `\n`, "\n")
	}
	if i := strings.Index(s, "-----BEGIN "); i >= 0 {
		if j := strings.Index(s[i+11:], "-----"); j >= 0 {
			if end := i + 11 + j + 5; end < len(s) && s[end] != '\n' && s[end] != '\r' {
				s = s[:end] + "\n" + s[end:]
			}
		}
	}
	if i := strings.Index(s, "-----END "); i > 0 && s[i-1] != '\n' {
		s = s[:i] + "\n" + s[i:]
	}
	return []byte(s)
}

// Origin implements Signer.
func (c *CloudFront) Origin() string { return c.origin }

// DefaultExpires implements Signer.
func (c *CloudFront) DefaultExpires() time.Duration { return time.Duration(c.Expires) }

// CheckRule implements Signer. CloudFront sets no limit of its own on
// expires.
func (c *CloudFront) CheckRule(r *RuleInfo) error {
	if err := checkExpires(r.Expires, 0, ""); err != nil {
		return err
	}
	o := r.Options
	for _, m := range r.Methods {
		if m != http.MethodGet && m != http.MethodHead {
			return fmt.Errorf("method %s: CloudFront signs downloads only: GET, HEAD", m)
		}
	}
	for _, s3 := range []struct {
		name string
		set  bool
	}{
		{"content_disposition", o.ContentDisposition != ""},
		{"content_type", o.ContentType != ""},
		{"cache_control", o.CacheControl != ""},
		{"max_size", o.MaxSize != 0},
		{"content_type_prefix", o.ContentTypePrefix != ""},
	} {
		if s3.set {
			return fmt.Errorf("%s is an S3 option; this is a cloudfront profile", s3.name)
		}
	}
	if o.Resource != "" {
		if !validResource(o.Resource) {
			return fmt.Errorf("resource %q: only printable ASCII without spaces (percent-encode the rest)", o.Resource)
		}
		r := o.Resource
		if !strings.HasPrefix(r, "{") && !strings.HasPrefix(r, "https://") && !strings.HasPrefix(r, "http://") &&
			!strings.HasPrefix(r, "http*://") && !strings.HasPrefix(r, "*") {
			return fmt.Errorf("resource %q: a URL pattern such as https://%s/dir/*", o.Resource, c.host)
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

// EscapeResourceValue percent-encodes a placeholder's value for a
// CloudFront resource pattern exactly as an object key is encoded in the
// URL (every byte but A-Z a-z 0-9 - . _ ~ and /), so that the pattern
// matches the URL CloudFront receives, and a '*' or '?' that comes from the
// request is a literal character, never a wildcard.
func EscapeResourceValue(v string) string { return escapePath(v) }

// Sign implements Signer. The answer may be shared with other requests
// (it comes from the answer cache): the caller must not modify it, nor
// its cookies.
func (c *CloudFront) Sign(_ context.Context, r *Request) (*Signed, error) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return nil, fmt.Errorf("CloudFront signs downloads only, not %s", r.Method)
	}
	o := r.Options
	expiresAt := r.SignTime.Add(r.Expires)
	var ip netip.Addr
	if o.BindClientIP {
		ip = r.ClientIP.WithZone("").Unmap()
		if !ip.IsValid() {
			return nil, errors.New("bind_client_ip: the request has no client IP")
		}
	}
	var cacheHash uint64
	var admit bool
	if c.ans != nil {
		var e *cfAnswer
		if e, cacheHash, admit = c.ans.lookup(r, ip, expiresAt); e != nil {
			return &e.answer, nil
		}
	}
	s, err := c.signAnswer(r, ip, expiresAt)
	if err != nil || !admit {
		return s, err
	}
	// one allocation for the entry and its answer, which this request and
	// every hit share; s itself is dropped
	e := &cfAnswer{
		key: r.Key, signTime: r.SignTime, expiresAt: expiresAt, ip: ip,
		custom: o.Resource != "", bind: o.BindClientIP, cookies: o.Cookies, cookieDomain: o.CookieDomain,
		answer: *s,
	}
	if e.custom {
		e.resource = r.Resource
	}
	c.ans.store(cacheHash, e)
	return &e.answer, nil
}

// signAnswer makes the answer to r, without the answer cache: ip is the
// client IP (valid only with bind_client_ip), expiresAt r's expiry.
func (c *CloudFront) signAnswer(r *Request, ip netip.Addr, expiresAt time.Time) (*Signed, error) {
	o := r.Options
	objectURL := c.origin + "/" + escapePath(r.Key)

	// canned policy: the resource is the URL itself, and the policy travels
	// as Expires; any other condition needs a custom policy
	resource, custom := objectURL, false
	if o.Resource != "" {
		resource, custom = r.Resource, true
		if !validResource(resource) {
			return nil, fmt.Errorf("resource %q expanded to %q, which is not a URL pattern", o.Resource, resource)
		}
	}
	var sourceIP string
	if o.BindClientIP {
		sourceIP = netip.PrefixFrom(ip, ip.BitLen()).String() // a.b.c.d/32 or x:y::z/128
		custom = true
	}

	sig, err := c.sign(resource, expiresAt, sourceIP)
	if err != nil {
		return nil, err
	}
	if o.Cookies {
		return &Signed{URL: objectURL, ExpiresAt: expiresAt, Cookies: c.cookies(o, custom, sig, r.SignTime, expiresAt)}, nil
	}
	var b strings.Builder
	b.Grow(len(objectURL) + len(sig.policy) + len(sig.signature) + len(c.keyID) + 50)
	b.WriteString(objectURL)
	if custom {
		b.WriteString("?Policy=")
		b.WriteString(sig.policy)
	} else {
		b.WriteString("?Expires=")
		b.WriteString(strconv.FormatInt(expiresAt.Unix(), 10))
	}
	b.WriteString("&Signature=")
	b.WriteString(sig.signature)
	b.WriteString("&Key-Pair-Id=")
	b.WriteString(c.keyID)
	return &Signed{URL: b.String(), ExpiresAt: expiresAt}, nil
}

// cfSignature is a signed policy: both in CloudFront's URL-safe base64.
type cfSignature struct {
	policy    string // the policy (used by custom policies only)
	signature string
}

// sign returns the signed policy for a resource, an expiry and an optional
// source IP, from the cache when the same policy was signed recently. With
// `stable`, every request for a key within a window asks for the same
// policy, so a hot object costs one RSA signature per window, not one per
// request. (RSA PKCS #1 v1.5 and our RFC 6979 ECDSA are deterministic, so
// the cache changes only the cost, never the answer.)
func (c *CloudFront) sign(resource string, expiresAt time.Time, sourceIP string) (cfSignature, error) {
	ck := resource + "\n" + strconv.FormatInt(expiresAt.Unix(), 10) + "\n" + sourceIP
	if s, ok := c.cache.get(ck); ok {
		return s, nil
	}
	st := sign.Statement{Resource: resource, Condition: sign.Condition{DateLessThan: sign.NewAWSEpochTime(expiresAt)}}
	if sourceIP != "" {
		st.Condition.IPAddress = &sign.IPAddress{SourceIP: sourceIP}
	}
	policy := &sign.Policy{Statements: []sign.Statement{st}}
	// Policy.Sign encodes the policy as CloudFront wants it (compact JSON,
	// no HTML escaping), signs its SHA-1 digest with the key and returns
	// both in CloudFront's base64 ('+' '=' '/' as '-' '_' '~')
	b64sig, b64policy, err := policy.Sign(c.key)
	if err != nil {
		return cfSignature{}, fmt.Errorf("signing the CloudFront policy: %v", err)
	}
	return c.cache.add(ck, cfSignature{policy: string(b64policy), signature: string(b64sig)}), nil
}

// cookies are CloudFront's signed cookies for a signed policy.
func (c *CloudFront) cookies(o *Options, custom bool, sig cfSignature, signTime, expiresAt time.Time) []*http.Cookie {
	cookie := func(name, value string) *http.Cookie {
		return &http.Cookie{
			Name:   name,
			Value:  value,
			Path:   "/",
			Domain: o.CookieDomain,
			// Expires is the policy's; Max-Age (which browsers prefer, and
			// which does not depend on the client's clock) counts from the
			// signing time, so with `stable` it may outlast the policy by
			// at most the window, never fall short of it
			Expires:  expiresAt,
			MaxAge:   int(expiresAt.Sub(signTime) / time.Second),
			Secure:   true,
			HttpOnly: true,
			SameSite: http.SameSiteLaxMode,
		}
	}
	first := cookie("CloudFront-Expires", strconv.FormatInt(expiresAt.Unix(), 10))
	if custom {
		first = cookie("CloudFront-Policy", sig.policy)
	}
	return []*http.Cookie{first, cookie("CloudFront-Signature", sig.signature), cookie("CloudFront-Key-Pair-Id", c.keyID)}
}

// cfAnswerCache remembers the answers a CloudFront profile gave recently
// (the signed URL, or the cookies and the unsigned URL), so that a hot key
// is answered without building them again, taking a lock or allocating:
// the signature cache saves the signature, this one everything else. It is
// the design of the S3 profile's s3URLCache.
//
// An answer is a pure function of the profile (origin, key pair ID and
// key, fixed at provisioning) and of the request's key, signing time,
// expiry, expanded resource (when the rule has one), client IP (with
// bind_client_ip), cookies mode and cookie domain: an entry records all of
// these and answers only a request that matches every one, the times
// compared exactly (instant and location), so that a cached answer is
// identical to a fresh one.
//
// It is a slotCache hashed by key, signing second, expiry, resource, client
// IP and options; an entry is about 250 bytes plus its URL (which it shares
// with its answers), or in cookies mode about 1 KiB with its three cookies:
// at most a few MiB per profile. A collision costs a miss, whose signature
// the signature cache usually has.
//
// Hits share the entry's answer: callers must not modify it or its
// cookies (the handler only reads them).
type cfAnswerCache struct{ slotCache[cfAnswer] }

// cfAnswer is one cached answer with everything that determined it.
type cfAnswer struct {
	key                 string
	resource            string // the expanded resource, when custom
	signTime, expiresAt time.Time
	ip                  netip.Addr // with bind only: unmapped, without zone
	custom, bind        bool       // the rule has a resource; bind_client_ip
	cookies             bool
	cookieDomain        string
	answer              Signed
}

func newCFAnswerCache() *cfAnswerCache {
	c := new(cfAnswerCache)
	c.init()
	return c
}

// hash is the hash of a request's answer: of the parts that vary from
// request to request.
func (c *cfAnswerCache) hash(r *Request, ip netip.Addr, expiresAt time.Time) uint64 {
	o := r.Options
	h := maphash.String(c.seed, r.Key)
	h ^= uint64(r.SignTime.Unix())*0x9e3779b97f4a7c15 ^ uint64(expiresAt.Unix())*0xc2b2ae3d27d4eb4f
	var flags uint64
	if o.Cookies {
		flags |= 1
	}
	if o.BindClientIP {
		flags |= 2
		a := ip.As16()
		h ^= binary.LittleEndian.Uint64(a[:8])*0x27d4eb2f165667c5 ^ binary.LittleEndian.Uint64(a[8:])*0x94d049bb133111eb
		if ip.Is4() {
			flags |= 4
		}
	}
	if o.Resource != "" {
		flags |= 8
		h ^= maphash.String(c.seed, r.Resource) * 0xbf58476d1ce4e5b9
	}
	h ^= (flags | uint64(len(o.CookieDomain))<<4) * 0x165667b19e3779f9
	return c.finish(h)
}

// lookup returns the cached answer to r (ip its client IP with
// bind_client_ip, expiresAt its expiry); or nil, and then whether a fresh
// answer should be stored (with store(h, ...)).
func (c *cfAnswerCache) lookup(r *Request, ip netip.Addr, expiresAt time.Time) (e *cfAnswer, h uint64, admit bool) {
	h = c.hash(r, ip, expiresAt)
	e, admit = c.find(h, func(e *cfAnswer) bool { return e.matches(r, ip, expiresAt) })
	return e, h, admit
}

// matches tells whether e is the answer to r, with client IP ip (with
// bind_client_ip) and expiry expiresAt.
func (e *cfAnswer) matches(r *Request, ip netip.Addr, expiresAt time.Time) bool {
	o := r.Options
	return e.signTime == r.SignTime && e.expiresAt == expiresAt && e.key == r.Key &&
		e.bind == o.BindClientIP && e.ip == ip &&
		e.cookies == o.Cookies && e.cookieDomain == o.CookieDomain &&
		e.custom == (o.Resource != "") && (!e.custom || e.resource == r.Resource)
}

// sigCache is a bounded, concurrency-safe map of recent signatures in two
// generations: when the current one is full it becomes the old one and the
// oldest is dropped; a hit in the old generation moves the entry forward.
// It holds at most max entries, and a hot entry is never dropped.
type sigCache struct {
	mu       sync.Mutex
	max      int // per generation
	cur, old map[string]cfSignature
}

func newSigCache(max int) *sigCache {
	half := max / 2
	if half < 1 {
		half = 1
	}
	return &sigCache{max: half, cur: make(map[string]cfSignature, half)}
}

func (c *sigCache) get(k string) (cfSignature, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.cur[k]; ok {
		return s, true
	}
	if s, ok := c.old[k]; ok {
		delete(c.old, k)
		c.putLocked(k, s)
		return s, true
	}
	return cfSignature{}, false
}

// add stores s under k unless an entry is there already (two requests
// signed the same policy at once), and returns the entry that is kept, so
// that both answer the same.
func (c *sigCache) add(k string, s cfSignature) cfSignature {
	c.mu.Lock()
	defer c.mu.Unlock()
	if have, ok := c.cur[k]; ok {
		return have
	}
	if have, ok := c.old[k]; ok {
		return have
	}
	c.putLocked(k, s)
	return s
}

func (c *sigCache) putLocked(k string, s cfSignature) {
	if len(c.cur) >= c.max {
		c.old, c.cur = c.cur, make(map[string]cfSignature, c.max)
	}
	c.cur[k] = s
}

func (c *sigCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cur) + len(c.old)
}

// UnmarshalCaddyfile sets up the profile from Caddyfile tokens. The
// dispenser stands on the kind ("cloudfront") of
//
//	profile <name> cloudfront {
//		domain <host or https://host[/path]>
//		...
//	}
func (c *CloudFront) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the kind
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		opt := d.Val()
		var err error
		switch opt {
		case "domain":
			err = OneArg(d, &c.Domain)
		case "key_pair_id":
			err = OneArg(d, &c.KeyPairID)
		case "private_key_file":
			err = OneArg(d, &c.PrivateKeyFile)
		case "private_key":
			// never echo the tokens: an unquoted PEM spills its lines here
			if !d.NextArg() {
				return d.Err("private_key needs the PEM as one argument, e.g. {env.CF_KEY}")
			}
			c.PrivateKey = d.Val()
			if d.NextArg() {
				return d.Err("private_key takes one argument: quote a PEM given inline with backticks, or use {env.CF_KEY} or private_key_file")
			}
		case "expires":
			err = DurationArg(d, &c.Expires)
		default:
			if !plainWord(opt) {
				// likely a line of a PEM that was not quoted: do not show it
				return d.Err("unknown subdirective (not shown: it may be part of a key; quote a PEM given inline with backticks, or use private_key_file) in cloudfront profile (domain, key_pair_id, private_key_file, private_key, expires)")
			}
			return d.Errf("unknown subdirective %q in cloudfront profile (domain, key_pair_id, private_key_file, private_key, expires)", opt)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Interface guards
var (
	_ Signer                = (*CloudFront)(nil)
	_ caddy.Provisioner     = (*CloudFront)(nil)
	_ caddyfile.Unmarshaler = (*CloudFront)(nil)
	_ crypto.Signer         = deterministicECDSA{}
)
