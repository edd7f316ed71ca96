package cloudfront

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/cloudfront/sign"
	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/internal/escape"
)

// Binds implements Binder: rules with a resource or bind_client_ip.
func (c *CloudFront) Binds(o *signers.Options) bool { return o.Resource != "" || o.BindClientIP }

// Bind implements Binder: the resource of a custom policy with its
// placeholders expanded, and the client IP for bind_client_ip.
func (c *CloudFront) Bind(r signers.Request, hr *http.Request, path string) signers.Request {
	o := r.Options
	if o.Resource != "" {
		repl := hr.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
		repl.Set("presign.path", path)
		repl.Set("presign.key", r.Key)
		// placeholder values are URL-escaped like the key in the URL, so
		// that a '*' or '?' from the request is no wildcard
		r.Resource, _ = repl.ReplaceFunc(o.Resource, resourceValue)
	}
	if o.BindClientIP {
		r.ClientIP = signers.ClientIP(hr)
	}
	return r
}

// Checks implements Checker: rules with a resource.
func (c *CloudFront) Checks(o *signers.Options) bool { return o.Resource != "" }

// Check implements Checker: a URL outside the resource of its custom
// policy, which CloudFront refuses; the patterns could not show it at
// start.
func (c *CloudFront) Check(r signers.Request, s *signers.Signed) *signers.Mistake {
	u := s.URL
	if i := strings.IndexByte(u, '?'); i >= 0 {
		u = u[:i] // the signature
	}
	if resourceCovers(r.Resource, u) {
		return nil
	}
	return &signers.Mistake{
		Message: "CloudFront will refuse this URL: it is outside the resource of its policy; make strip_prefix, key and resource agree",
		Fields:  []zap.Field{zap.String("url", u), zap.String("resource", r.Resource)},
	}
}

// resourceValue is a placeholder's value in a CloudFront resource pattern:
// percent-encoded exactly as an object key is in the URL (every byte but
// A-Z a-z 0-9 - . _ ~ and /), so that the pattern matches the URL
// CloudFront receives and a '*' or '?' that comes from the request (a key,
// a user name) is a literal character, never a wildcard. {env.*} and
// {file.*} are the operator's and are taken as they are.
func resourceValue(name string, v any) (any, error) {
	s := caddy.ToString(v)
	if strings.HasPrefix(name, "env.") || strings.HasPrefix(name, "file.") {
		return s, nil
	}
	return escape.Path(s), nil
}

// Sign implements Signer. The answer may be shared with other requests
// (it comes from the answer cache): the caller must not modify it, nor
// its cookies.
func (c *CloudFront) Sign(ctx context.Context, req signers.Request) (*signers.Signed, error) {
	r := &req
	o := r.Options
	expiresAt := r.Start().Add(r.Expires)
	var ip netip.Addr
	if o.BindClientIP {
		ip = r.ClientIP.WithZone("").Unmap()
		if !ip.IsValid() {
			return nil, errors.New("bind_client_ip: the request has no client IP")
		}
	}
	e, cacheHash, admit := c.ans.lookup(r, ip, expiresAt)
	if e != nil {
		return &e.answer, nil
	}
	s, err := c.signAnswer(ctx, r, ip, expiresAt)
	if err != nil || !admit {
		return s, err
	}
	// one allocation for the entry and its answer, which this request and
	// every hit share; s itself is dropped
	e = &cfAnswer{
		key: r.Key, options: o, signTime: r.SignTime, expiresAt: expiresAt, ip: ip,
		answer: *s,
	}
	if o.Resource != "" {
		e.resource = r.Resource
	}
	c.ans.Store(cacheHash, e)
	return &e.answer, nil
}

// signAnswer makes the answer to r, without the answer cache: ip is the
// client IP (valid only with bind_client_ip), expiresAt r's expiry.
func (c *CloudFront) signAnswer(ctx context.Context, r *signers.Request, ip netip.Addr, expiresAt time.Time) (*signers.Signed, error) {
	o := r.Options
	objectURL := c.origin + "/" + escape.Path(r.Key)

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

	if o.NotBefore != nil {
		custom = true
	}
	sig, err := c.sign(ctx, resource, expiresAt, o.NotBefore, sourceIP)
	if err != nil {
		return nil, err
	}
	if o.Cookies {
		return &signers.Signed{URL: objectURL, ExpiresAt: expiresAt, Cookies: c.cookies(o, custom, sig, r.SignTime, expiresAt)}, nil
	}
	var b strings.Builder
	b.Grow(len(objectURL) + len(sig.policy) + len(sig.signature) + len(c.keyID) + 72)
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
	if c.hashParam != "" {
		b.WriteString("&Hash-Algorithm=")
		b.WriteString(c.hashParam)
	}
	return &signers.Signed{URL: b.String(), ExpiresAt: expiresAt}, nil
}

// resourceCovers tells whether a policy's resource pattern (Request.Resource)
// covers url, the URL without its query, as CloudFront compares them: '*'
// stands for any run of characters (none too), '?' for exactly one, any
// other character for itself. CloudFront refuses a URL outside the
// resource of its policy.
func resourceCovers(pattern, url string) bool {
	p, u := 0, 0
	star, mark := -1, 0 // the last '*' seen, and where in url its run ends
	for u < len(url) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, u
			p++
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == url[u]):
			p++
			u++
		case star >= 0: // let the last '*' take one more character
			mark++
			p, u = star+1, mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// cfSignature is a signed policy: both in CloudFront's URL-safe base64.
type cfSignature struct {
	policy    string // the policy (used by custom policies only)
	signature string
}

// sign returns the signed policy for a resource, an expiry, an optional
// not-before and an optional source IP, from the cache when the same
// policy was signed recently. With `stable`, every request for a key within a window asks for the same
// policy, so a hot object costs one RSA signature per window, not one per
// request. (RSA PKCS #1 v1.5 and our RFC 6979 ECDSA are deterministic, so
// the cache changes only the cost, never the answer.)
func (c *CloudFront) sign(ctx context.Context, resource string, expiresAt time.Time, notBefore *time.Time, sourceIP string) (cfSignature, error) {
	ck := resource + "\n" + strconv.FormatInt(expiresAt.Unix(), 10) + "\n" + sourceIP
	if notBefore != nil {
		ck += "\n" + strconv.FormatInt(notBefore.Unix(), 10)
	}
	if s, ok := c.cache.get(ck); ok {
		return s, nil
	}
	if c.kms == nil {
		return c.signPolicy(ctx, ck, resource, expiresAt, notBefore, sourceIP)
	}
	return c.kms.once(ck, func() (cfSignature, error) {
		// a flight for ck may have ended since the lookup above, and
		// left its signature in the cache
		if s, ok := c.cache.get(ck); ok {
			return s, nil
		}
		return c.signPolicy(ctx, ck, resource, expiresAt, notBefore, sourceIP)
	})
}

// signPolicy signs the policy of sign's arguments, and caches its
// signature under ck.
func (c *CloudFront) signPolicy(ctx context.Context, ck, resource string, expiresAt time.Time, notBefore *time.Time, sourceIP string) (cfSignature, error) {
	st := sign.Statement{Resource: resource, Condition: sign.Condition{DateLessThan: sign.NewAWSEpochTime(expiresAt)}}
	if notBefore != nil {
		st.Condition.DateGreaterThan = sign.NewAWSEpochTime(*notBefore)
	}
	if sourceIP != "" {
		st.Condition.IPAddress = &sign.IPAddress{SourceIP: sourceIP}
	}
	policy, err := encodePolicy(&sign.Policy{Statements: []sign.Statement{st}})
	if err != nil {
		return cfSignature{}, fmt.Errorf("encoding the CloudFront policy: %v", err)
	}
	var digest []byte
	if c.hash == crypto.SHA256 {
		d := sha256.Sum256(policy)
		digest = d[:]
	} else {
		d := sha1.Sum(policy)
		digest = d[:]
	}
	var sig []byte
	if c.kms != nil {
		if sig, err = c.kms.remote.Sign(ctx, digest); err != nil {
			return cfSignature{}, err
		}
	} else if sig, err = c.key.Sign(nil, digest, c.hash); err != nil {
		return cfSignature{}, fmt.Errorf("signing the CloudFront policy: %v", err)
	}
	return c.cache.add(ck, cfSignature{policy: cfBase64(policy), signature: cfBase64(sig)}), nil
}

// encodePolicy is a policy as CloudFront wants it signed: compact JSON,
// without HTML escaping, as AWS's SDK encodes it.
func encodePolicy(p *sign.Policy) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	return bytes.TrimSpace(b.Bytes()), nil
}

// cfBase64 is b in CloudFront's URL-safe base64: '+' '=' '/' as '-' '_' '~'.
func cfBase64(b []byte) string {
	out := make([]byte, base64.StdEncoding.EncodedLen(len(b)))
	base64.StdEncoding.Encode(out, b)
	for i, c := range out {
		switch c {
		case '+':
			out[i] = '-'
		case '=':
			out[i] = '_'
		case '/':
			out[i] = '~'
		}
	}
	return string(out)
}

// cookies are CloudFront's signed cookies for a signed policy.
func (c *CloudFront) cookies(o *signers.Options, custom bool, sig cfSignature, signTime, expiresAt time.Time) []*http.Cookie {
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
	cs := []*http.Cookie{first, cookie("CloudFront-Signature", sig.signature), cookie("CloudFront-Key-Pair-Id", c.keyID)}
	if c.hashParam != "" {
		cs = append(cs, cookie("CloudFront-Hash-Algorithm", c.hashParam))
	}
	return cs
}
