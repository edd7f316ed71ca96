package signers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

// Namespace is the Caddy module namespace of profile kinds.
const Namespace = "http.handlers.presign.profiles"

// Signer presigns requests for one profile: a bucket or a distribution.
type Signer interface {
	// Sign presigns r, which it gets by value: a Request passed through
	// an interface by pointer would escape to the heap, one allocation per
	// request. An error that wraps ErrCredentials means credentials
	// could not be had right now (the handler answers 503); any other error
	// is a bug or a request the profile cannot serve (500).
	Sign(ctx context.Context, r Request) (*Signed, error)

	// Origin is the scheme://host[/path] that every URL returned by Sign
	// starts with, followed by '/', '?' or nothing: the request can change
	// only what follows it. A kind whose URLs are relative (links to this
	// server, a Guard's) has the path they start with, "/s". The handler
	// answers 500, and sends nothing, for a URL that does not.
	Origin() string

	// DefaultExpires is the URLs' lifetime for rules that set none.
	DefaultExpires() time.Duration

	// CheckRule tells whether this profile can serve the rule r. The error
	// names the offending method or option and is shown to the user at
	// start; it is nil when all is well.
	CheckRule(r *RuleInfo) error
}

// Binder is a Signer whose URLs may depend on more of the client's request
// than the key: its placeholders, or Caddy's client IP. The handler calls
// Bind before Sign for each request of a rule that Binds.
type Binder interface {
	// Binds tells, at start, whether rules with options o need Bind.
	Binds(o *Options) bool

	// Bind returns r with what the kind reads of hr, the client's request
	// (its placeholders, among them presign.path, which is path, and
	// presign.key, r.Key), filled in. r travels by value, as in Sign.
	Bind(r Request, hr *http.Request, path string) Request
}

// RuleInfo is what a profile is told of a rule at start, to check that it
// can serve it (CheckRule).
type RuleInfo struct {
	// Profile is the name of the rule's profile.
	Profile string
	// Methods are the methods the rule answers: upper case, each of GET,
	// HEAD, PUT, POST and DELETE at most once.
	Methods []string
	// Expires is the URLs' lifetime: the rule's expires, or else the
	// profile's DefaultExpires.
	Expires time.Duration
	// KeyPrefix is text that every object key of the rule starts with, as
	// far as its key template and path patterns show it, known up to
	// letter case (the path matcher ignores case); often "".
	KeyPrefix string
	// Options are the rule's signing options.
	Options *Options
}

// CheckExpires checks a lifetime, a profile's own expires or a rule's:
// positive, whole seconds, and at most max (0: no limit), the limit of
// whose ("the", or "profile \"x\"'s").
func CheckExpires(d, max time.Duration, whose string) error {
	if d <= 0 {
		return fmt.Errorf("expires must be positive, got %s", d)
	}
	if d%time.Second != 0 {
		return fmt.Errorf("expires must be whole seconds, got %s", d)
	}
	if max > 0 && d > max {
		return fmt.Errorf("expires %s is over %s limit of %s", d, whose, max)
	}
	return nil
}

// DefaultExpires is the URLs' lifetime of a profile that sets no expires.
const DefaultExpires = 15 * time.Minute

// Request is one thing to sign, built by the handler for a matched request.
type Request struct {
	// Method is one of the rule's methods, which CheckRule accepted: GET,
	// HEAD, PUT, POST (a browser upload form) or DELETE.
	Method string
	// Key is the object key, already validated: valid UTF-8, 1 to 1024
	// bytes, no control character, no empty, "." or ".." segment and no
	// leading "/".
	Key string
	// SignTime is the signing time: whole seconds, UTC. With `stable` it is
	// the start of the current window, so it may lie in the past.
	SignTime time.Time
	// Expires is the lifetime counted from SignTime, in whole seconds.
	Expires time.Duration
	// Options are the rule's options; never nil. The same pointer for
	// every request of a rule, and never modified after start: the kinds'
	// caches of answers match a rule's options by this identity, so that
	// no option can be left out of their keys.
	Options *Options
	// Resource is Options.Resource with its placeholders expanded ("" when
	// the rule has none); set by Bind.
	Resource string
	// ClientIP is the client's address (Caddy's client IP, which honours
	// trusted_proxies); valid only when Options.BindClientIP is set; set by
	// Bind.
	ClientIP netip.Addr
	// ContentType is, on a PUT or POST of a rule with content_type_prefix
	// (and on uppy's POST forms), the upload's Content-Type, checked by the
	// handler: a PUT URL signs it as a header, so that the store takes the
	// upload with that type only, and the answer's Headers carry it; a POST
	// policy pins it (eq $Content-Type) and its fields carry it. "" otherwise.
	ContentType string
}

// Start is when the URL of r starts to work, from which its Expires
// counts: the signing time, or the rule's not_before when that is later.
func (r *Request) Start() time.Time {
	if nb := r.Options.NotBefore; nb != nil && nb.After(r.SignTime) {
		return *nb
	}
	return r.SignTime
}

// Signed is a signer's answer.
type Signed struct {
	// URL is the presigned URL; in CloudFront cookies mode, the unsigned
	// URL the cookies open.
	URL string
	// ExpiresAt is when the URL (or the cookies) stop working: SignTime +
	// Expires, cut to the credentials' own expiry when that comes first.
	ExpiresAt time.Time
	// Fields are the form fields of an S3 POST policy (Method POST only).
	Fields map[string]string
	// Cookies are CloudFront's signed cookies (Options.Cookies only).
	Cookies []*http.Cookie
	// Headers are request headers the client must send with the URL, which
	// a redirect cannot add (Azure's x-ms-blob-type for uploads, the signed
	// Content-Type of a PUT); JSON answers carry them. Shared between
	// answers: never modified.
	Headers map[string]string
}

// Checker is a Signer that can tell, from an answer, a mistake of the
// rule's config that could not be seen at start (a URL outside the
// resource of its policy, which the store will refuse). The handler asks,
// for a rule that Checks, after each answer until it has logged one
// mistake for the rule; the answer still goes out.
type Checker interface {
	// Checks tells, at start, whether the answers of rules with options o
	// need Check.
	Checks(o *Options) bool

	// Check returns the mistake that s, the answer to r, shows; nil when
	// there is none.
	Check(r Request, s *Signed) *Mistake
}

// Mistake is a mistake of a rule's config that an answer shows: what is
// wrong and how to fix it, and the log fields that show it (never a
// signature).
type Mistake struct {
	Message string
	Fields  []zap.Field
}

// ContentTypeHeader is the Headers of a URL that signs the Content-Type
// ct (Request.ContentType), or nil when ct is "".
func ContentTypeHeader(ct string) map[string]string {
	if ct == "" {
		return nil
	}
	return map[string]string{"Content-Type": ct}
}

// ErrCredentials is wrapped by errors that mean credentials could not be had
// (a provider down or slow, a role refused). It is not the caller's fault and
// it passes: the handler answers 503 with Retry-After.
var ErrCredentials = errors.New("credentials unavailable")

// CredentialsBackoff is how long after a failed fetch of credentials a
// profile answers requests with that failure (ErrCredentials) before it asks
// the provider again. The handler's 503 answers say it in Retry-After.
const CredentialsBackoff = time.Second

// Expand is a config value with its placeholders ({env.VAR}, {file.path})
// replaced, as Caddy knows them at start, and white space trimmed: how every
// profile reads its text options and secrets at provision.
func Expand(v string) string {
	return strings.TrimSpace(caddy.NewReplacer().ReplaceAll(v, ""))
}

// ExpandAll expands each of the fields in place.
func ExpandAll(fields ...*string) {
	for _, f := range fields {
		*f = Expand(*f)
	}
}
