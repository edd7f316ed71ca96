package s3

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/caddy-presign/presign/signers/internal/endpoint"
	"github.com/caddy-presign/presign/signers/internal/escape"
)

// v4Input is one SigV4 query-auth presign for S3.
type v4Input struct {
	Method      string              // GET, HEAD, PUT, DELETE
	Scheme      string              // "https" or "http"
	Host        string              // host[:port], as in the URL
	EscapedPath string              // the URL path, already encoded by escape.Path; starts with "/"
	Query       []escape.QueryParam // extra parameters, in any order
	Region      string
	Service     string // "s3"
	Creds       aws.Credentials
	SignTime    time.Time // whole seconds
	Expires     int64     // X-Amz-Expires, seconds
	ContentType string    // a Content-Type header to sign; "" for none
}

// maxV4QueryParams bounds v4Input.Query. Far above any real use, and far
// below the 10000 parameters past which net/url (and so the SDK) silently
// drops the whole query.
const maxV4QueryParams = 1000

// errV4TooManyParams is returned for more than maxV4QueryParams parameters.
var errV4TooManyParams = errors.New("sigv4: too many query parameters")

// presignV4 returns the presigned URL for in, with the signing key from
// keys (derived and kept there on a miss). It is byte for byte what
// v4.Signer.PresignHTTP (aws-sdk-go-v2) returns for the same request with the
// payload hash UNSIGNED-PAYLOAD and DisableURIPathEscaping, S3's settings,
// and it fails only where that fails (an invalid escape in EscapedPath), or
// for more than maxV4QueryParams parameters. A ContentType is signed as the
// SDK signs a request's Content-Type header: X-Amz-SignedHeaders
// content-type;host. It is safe for concurrent use.
func presignV4(keys *v4KeyCache, in *v4Input) (string, error) {
	s := v4ScratchPool.Get().(*v4Scratch)
	out, err := s.presign(s.url[:0], keys, in)
	u := string(out)
	s.url = out
	s.release()
	if err != nil {
		return "", err
	}
	return u, nil
}

// SigV4 constants.
const (
	v4Algorithm     = "AWS4-HMAC-SHA256"
	v4Terminator    = "aws4_request"
	v4SignedHeaders = "host"
	v4SignedTyped   = "content-type;host" // with a Content-Type
	v4UnsignedHash  = "UNSIGNED-PAYLOAD"
	v4TimeLayout    = "20060102T150405Z"
	v4SignatureKey  = "&X-Amz-Signature="
)

// v4ValueKind says where a v4Param's value comes from, so that values
// computed per call are written straight into the URL without a string.
type v4ValueKind uint8

const (
	v4Literal    v4ValueKind = iota // v4Param.value
	v4Token                         // v4Param.value, the session token
	v4Expires                       // X-Amz-Expires
	v4Date                          // X-Amz-Date
	v4Credential                    // access key ID and credential scope
)

// v4Param is one query parameter of the canonical query, not yet encoded.
type v4Param struct {
	name  string
	value string
	kind  v4ValueKind
}

// v4Scratch is the per-call working memory of a presign, pooled.
type v4Scratch struct {
	url []byte                     // presignV4's output buffer
	buf []byte                     // canonical request, then string to sign
	h   hash.Hash                  // SHA-256
	hu  encoding.BinaryUnmarshaler // h, to load precomputed HMAC states
	sum [sha256.Size]byte          // HMAC's inner, then outer, digest
}

// v4ScratchPool holds *v4Scratch.
var v4ScratchPool = sync.Pool{New: func() any {
	h := sha256.New()
	return &v4Scratch{
		url: make([]byte, 0, 1024),
		buf: make([]byte, 0, 1024),
		h:   h,
		hu:  h.(encoding.BinaryUnmarshaler),
	}
}}

// release returns s to the pool, unless its buffers grew too big.
func (s *v4Scratch) release() {
	if cap(s.url) > escape.MaxPooledBuf || cap(s.buf) > escape.MaxPooledBuf {
		return
	}
	s.url = s.url[:0]
	s.buf = s.buf[:0]
	v4ScratchPool.Put(s)
}

// presign appends the presigned URL for in to dst.
func (s *v4Scratch) presign(dst []byte, keys *v4KeyCache, in *v4Input) ([]byte, error) {
	if len(in.Query) > maxV4QueryParams {
		return dst, errV4TooManyParams
	}

	// The canonical URI and what precedes it in the URL. The SDK takes both
	// from net/url: the common, already clean case is written directly and
	// anything else goes through net/url as in the SDK.
	var canonicalURI string
	out := dst
	if v4Plain(in.Scheme, in.Host, in.EscapedPath) {
		canonicalURI = in.EscapedPath
		out = append(out, in.Scheme...)
		out = append(out, "://"...)
		out = append(out, in.Host...)
		out = append(out, in.EscapedPath...)
	} else {
		path, err := url.PathUnescape(in.EscapedPath)
		if err != nil {
			return dst, fmt.Errorf("sigv4: escaped path: %w", err)
		}
		u := url.URL{Scheme: in.Scheme, Host: in.Host, Path: path, RawPath: in.EscapedPath}
		canonicalURI = u.EscapedPath()
		if canonicalURI == "" {
			canonicalURI = "/"
		}
		out = append(out, u.String()...)
	}
	out = append(out, '?')

	var arr [48]byte
	amzDate := escape.AppendBasicTime(arr[:0], in.SignTime.UTC())
	shortDate := amzDate[:len(amzDate)-len("T150405Z")]
	expires := strconv.AppendInt(amzDate[len(amzDate):], in.Expires, 10)
	k := keys.get(in.Creds.SecretAccessKey, shortDate, in.Region, in.Service, in.Creds.SessionToken)

	// The canonical query is also the URL's query.
	qStart := len(out)
	out = appendCanonicalQuery(out, in, k, amzDate, expires)
	query := out[qStart:]

	// Canonical request: its hash goes into the string to sign.
	b := append(s.buf[:0], in.Method...)
	b = append(b, '\n')
	b = append(b, canonicalURI...)
	b = append(b, '\n')
	b = append(b, query...)
	b = append(b, '\n')
	if in.ContentType != "" {
		b = append(b, "content-type:"...)
		b = append(b, strings.TrimSpace(endpoint.StripExcessSpaces(in.ContentType))...)
		b = append(b, '\n')
	}
	b = append(b, "host:"...)
	b = append(b, endpoint.SignedHostHeader(in.Scheme, in.Host)...)
	b = append(b, "\n\n"...)
	b = append(b, v4SignedHeadersOf(in)...)
	b = append(b, "\n"+v4UnsignedHash...)
	crHash := sha256.Sum256(b)

	// String to sign.
	b = append(b[:0], v4Algorithm+"\n"...)
	b = append(b, amzDate...)
	b = append(b, '\n')
	b = appendScope(b, shortDate, in.Region, in.Service)
	b = append(b, '\n')
	b = hex.AppendEncode(b, crHash[:])
	s.buf = b

	// Signature: HMAC-SHA256 of the string to sign under the cached signing
	// key, from its precomputed inner and outer states.
	if err := s.hu.UnmarshalBinary(k.inner); err != nil {
		return dst, fmt.Errorf("sigv4: load hmac state: %w", err)
	}
	s.h.Write(b)
	mac := s.h.Sum(s.sum[:0])
	if err := s.hu.UnmarshalBinary(k.outer); err != nil {
		return dst, fmt.Errorf("sigv4: load hmac state: %w", err)
	}
	s.h.Write(mac)
	mac = s.h.Sum(s.sum[:0])

	out = append(out, v4SignatureKey...)
	return hex.AppendEncode(out, mac), nil
}

// appendCanonicalQuery appends the canonical query of in: the parameters the
// SDK would have, each name and value encoded, sorted by encoded name. k is
// the signing key entry, for its encoded session token; amzDate and expires
// are the values of X-Amz-Date and X-Amz-Expires.
//
// The SDK puts X-Amz-Expires and then in.Query in url.Values with Set (the
// last of equal names wins), and then Sets its own parameters over them: the
// algorithm, the session token if any, the date, the credential and the
// signed headers. Encoding is a byte-wise injective map, so equal names are
// equal encoded names; a stable sort followed by keeping the last of each
// run of equal names gives exactly that set, in the SDK's order.
func appendCanonicalQuery(out []byte, in *v4Input, k *v4Key, amzDate, expires []byte) []byte {
	var arr [12]v4Param
	params := append(arr[:0], v4Param{name: "X-Amz-Expires", kind: v4Expires})
	for _, p := range in.Query {
		params = append(params, v4Param{name: p.Name, value: p.Value})
	}
	params = append(params, v4Param{name: "X-Amz-Algorithm", value: v4Algorithm})
	if tok := in.Creds.SessionToken; tok != "" {
		params = append(params, v4Param{name: "X-Amz-Security-Token", value: tok, kind: v4Token})
	}
	params = append(params,
		v4Param{name: "X-Amz-Date", kind: v4Date},
		v4Param{name: "X-Amz-Credential", kind: v4Credential},
		v4Param{name: "X-Amz-SignedHeaders", value: v4SignedHeadersOf(in)},
	)
	slices.SortStableFunc(params, func(a, b v4Param) int { return escape.CompareEncoded(a.name, b.name) })

	shortDate := amzDate[:len(amzDate)-len("T150405Z")]
	first := true
	for i := range params {
		p := &params[i]
		if i+1 < len(params) && params[i+1].name == p.name {
			continue // Set over by a later one
		}
		if !first {
			out = append(out, '&')
		}
		first = false
		out = escape.Append(out, p.name, &escape.Unreserved)
		out = append(out, '=')
		switch p.kind {
		case v4Literal:
			out = escape.Append(out, p.value, &escape.Unreserved)
		case v4Token:
			if p.value == k.token {
				out = append(out, k.tokenEscaped...)
			} else {
				out = escape.Append(out, p.value, &escape.Unreserved)
			}
		case v4Expires:
			out = escape.Append(out, expires, &escape.Unreserved)
		case v4Date:
			out = escape.Append(out, amzDate, &escape.Unreserved)
		case v4Credential:
			out = escape.Append(out, in.Creds.AccessKeyID, &escape.Unreserved)
			out = append(out, "%2F"...)
			out = escape.Append(out, shortDate, &escape.Unreserved)
			out = append(out, "%2F"...)
			out = escape.Append(out, in.Region, &escape.Unreserved)
			out = append(out, "%2F"...)
			out = escape.Append(out, in.Service, &escape.Unreserved)
			out = append(out, "%2F"+v4Terminator...)
		}
	}
	return out
}

// v4SignedHeadersOf is the value of X-Amz-SignedHeaders for in.
func v4SignedHeadersOf(in *v4Input) string {
	if in.ContentType != "" {
		return v4SignedTyped
	}
	return v4SignedHeaders
}

// appendScope appends the credential scope date/region/service/aws4_request.
func appendScope(b, shortDate []byte, region, service string) []byte {
	b = append(b, shortDate...)
	b = append(b, '/')
	b = append(b, region...)
	b = append(b, '/')
	b = append(b, service...)
	return append(b, "/"+v4Terminator...)
}

// v4Plain tells whether scheme, host and path are in the form net/url
// writes back unchanged, so the SDK's URL is scheme://host+path and its
// canonical URI is path: scheme http or https, a non-empty host of
// alphanumerics and -._~:[], and a path starting with "/" made of escape.Unreserved
// bytes, "/" and valid %XX escapes (what escape.Path produces).
func v4Plain(scheme, host, path string) bool {
	if scheme != "https" && scheme != "http" || host == "" || path == "" || path[0] != '/' {
		return false
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; !escape.Unreserved[c] && c != ':' && c != '[' && c != ']' {
			return false
		}
	}
	for i := 0; i < len(path); i++ {
		switch c := path[i]; {
		case escape.PathSafe[c]:
		case c == '%' && i+2 < len(path) && escape.IsHex(path[i+1]) && escape.IsHex(path[i+2]):
			i += 2
		default:
			return false
		}
	}
	return true
}

// v4KeyCacheSize bounds the signing-key cache: one entry per (secret,
// region, service) in use, for the current day.
const v4KeyCacheSize = 16

// v4Key is an immutable cache entry: the SigV4 signing key for one secret,
// day, region and service, kept as the marshaled SHA-256 states of HMAC's
// inner and outer hashes after their key block. It also keeps the session
// token it was first derived with, query-encoded: temporary credentials
// change secret and token together, so the token of a secret rarely changes
// (when it does, the token is encoded per call).
type v4Key struct {
	secret, date, region, service string
	inner, outer                  []byte
	token, tokenEscaped           string
}

// v4KeyCache is a small, bounded, lock-free cache of signing keys; each S3
// profile has its own, emptied when a reload removes the profile. Entries
// are immutable and published atomically; two goroutines that miss at once
// both derive the same key, which is harmless.
type v4KeyCache struct {
	slots [v4KeyCacheSize]atomic.Pointer[v4Key]
	next  atomic.Uint32 // round-robin victim
}

// clear forgets every key. A get racing with it may leave an entry after an
// empty slot, where lookups stop: that costs a derivation, never a wrong
// key.
func (c *v4KeyCache) clear() {
	for i := range c.slots {
		c.slots[i].Store(nil)
	}
}

// get returns the signing key for secret, date (YYYYMMDD), region and
// service, deriving and caching it on a miss, with token on a miss.
func (c *v4KeyCache) get(secret string, date []byte, region, service, token string) *v4Key {
	for i := range c.slots {
		k := c.slots[i].Load()
		if k == nil {
			break // slots fill in order and are emptied only all at once
		}
		if k.secret == secret && k.date == string(date) && k.region == region && k.service == service {
			return k
		}
	}
	k := deriveV4Key(secret, string(date), region, service, token)
	// Replace this secret, region and service's entry of another day, or
	// else the first free slot, or else a round-robin victim.
	victim := -1
	for i := range c.slots {
		old := c.slots[i].Load()
		if old == nil || old.secret == secret && old.region == region && old.service == service {
			victim = i
			break
		}
	}
	if victim < 0 {
		victim = int(c.next.Add(1) % v4KeyCacheSize)
	}
	c.slots[victim].Store(k)
	return k
}

// deriveV4Key derives the SigV4 signing key
// HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request")
// and precomputes HMAC's states under it; token is the session token to
// keep encoded.
func deriveV4Key(secret, date, region, service, token string) *v4Key {
	key := signingKey(secret, date, region, service)

	// HMAC with a key shorter than the block: H((K^opad) || H((K^ipad) || m)).
	state := func(pad byte) []byte {
		var block [sha256.BlockSize]byte
		copy(block[:], key)
		for i := range block {
			block[i] ^= pad
		}
		h := sha256.New()
		h.Write(block[:])
		b, err := h.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			panic("sigv4: sha256 state cannot be marshaled: " + err.Error())
		}
		return b
	}
	return &v4Key{
		secret:       secret,
		date:         date,
		region:       region,
		service:      service,
		inner:        state(0x36),
		outer:        state(0x5c),
		token:        token,
		tokenEscaped: string(escape.Append(nil, token, &escape.Unreserved)),
	}
}

// signingKey derives SigV4's signing key for a day (YYYYMMDD), region and
// service: HMAC(HMAC(HMAC(HMAC("AWS4"+secret, day), region), service),
// "aws4_request"). S3 POST policies are signed with it directly.
func signingKey(secret, day, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), day)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, v4Terminator)
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}
