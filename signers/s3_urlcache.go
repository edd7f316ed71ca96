package signers

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// s3URLCache remembers the URLs an S3 profile signed recently, so that a
// hot key is signed about once per second (once per window with `stable`)
// rather than once per request.
//
// A presigned URL is a pure function of the profile (scheme, host, bucket,
// region), the method, the key, the response-* overrides, the credentials
// (access key, secret, session token), the signing time in seconds and the
// lifetime in seconds: an entry records all of the request's share of these
// and answers only a request that matches every one, and the answer's
// expires_at too, so that a cached answer is identical to a fresh one.
// Within a second (or a `stable` window) a key's URL does not change; a new
// second, a rotation of the credentials or a lifetime cut to theirs makes a
// new one.
//
// It is a slotCache hashed by key, method, signing second and lifetime; an
// entry is about 250 bytes plus its URL, which it shares with the answers it
// gave: at most a few hundred KiB per profile for common keys, about 5 MiB
// for 1024-byte keys.
type s3URLCache struct{ slotCache[s3URL] }

// s3URL is one cached URL with everything that determined it.
type s3URL struct {
	method, key               string
	signSec, expires          int64 // X-Amz-Date as Unix seconds, X-Amz-Expires
	cacheControl, disposition string
	contentType               string
	accessKey, secret, token  string
	url                       string
	expiresAt                 time.Time

	// first is the answer of the request that signed the URL: it shares
	// the entry's allocation, and no other request reads it.
	first Signed
}

func newS3URLCache() *s3URLCache {
	c := new(s3URLCache)
	c.init()
	return c
}

// lookup returns the cached URL of r, signed at signSec for expires seconds
// with creds and answered with expiresAt; or nil, and then whether a fresh
// signature should be stored (with store(h, ...)).
func (c *s3URLCache) lookup(r *Request, signSec, expires int64, creds *aws.Credentials, expiresAt time.Time) (e *s3URL, h uint64, admit bool) {
	h = c.hashURL(r.Method, r.Key, signSec, expires)
	e, admit = c.find(h, func(e *s3URL) bool { return e.matches(r, signSec, expires, creds, expiresAt) })
	return e, h, admit
}

// matches tells whether e is the URL for this request, signed at signSec
// for expires seconds with creds. expiresAt is the answer's ExpiresAt, compared exactly (its instant and
// location) so that a cached answer is identical to a fresh one.
func (e *s3URL) matches(r *Request, signSec, expires int64, creds *aws.Credentials, expiresAt time.Time) bool {
	return e.signSec == signSec && e.expires == expires && e.key == r.Key && e.method == r.Method &&
		e.expiresAt == expiresAt &&
		e.accessKey == creds.AccessKeyID && e.secret == creds.SecretAccessKey && e.token == creds.SessionToken &&
		e.cacheControl == r.Options.CacheControl && e.disposition == r.Options.ContentDisposition &&
		e.contentType == r.Options.ContentType
}
