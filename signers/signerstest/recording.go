package signerstest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-presign/presign/signers"
)

// The recording kind: a profile kind for the handler's tests, which test
// what the handler asks of a kind and what it answers, not how a kind
// signs. It signs deterministic URLs that show what it was asked, and
// records each request. It is registered only by tests that call
// RegisterRecording (only tests import this package), so that no module
// users build holds it. It declares no rule option: the lists of kinds
// that serve an option, which errors show, stay those of the real kinds.

// RecordingKind is the recording kind's name, its Caddyfile keyword.
const RecordingKind = "recording"

// RecordingOrigin is the origin of a recording profile that sets none.
const RecordingOrigin = "https://recording.test"

var registerRecording = sync.OnceValue(func() *signers.Kind {
	k := signers.RegisterKind(RecordingKind, 1000) // after every real kind; no option
	caddy.RegisterModule(new(Recording))
	return k
})

// RegisterRecording registers the recording kind, once: call it from the
// tests (an init of a _test.go file) that configure `profile <name>
// recording { ... }`.
func RegisterRecording() { registerRecording() }

// Recording is a profile of the recording kind. Its URLs are
// origin + "/" + the escaped key + "?method=<method>&exp=<unix expiry>",
// and "&ct=<Content-Type>" when the request signs one (which the answer's
// headers carry too); a POST is answered with the form URL origin + "/"
// and the fields key, method and, when signed, Content-Type. Every answer
// expires at SignTime + Expires.
type Recording struct {
	// OriginURL is what every URL starts with (Origin); default
	// RecordingOrigin. In the Caddyfile `origin <url>`.
	OriginURL string `json:"origin,omitempty"`

	// Expires is the URLs' lifetime for rules that set none; default
	// signers.DefaultExpires.
	Expires caddy.Duration `json:"expires,omitempty"`

	mu     sync.Mutex
	signed []signers.Request
}

// CaddyModule returns the Caddy module information.
func (*Recording) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  caddy.ModuleID(signers.Namespace + "." + RecordingKind),
		New: func() caddy.Module { return new(Recording) },
	}
}

// Provision fills the defaults.
func (p *Recording) Provision(caddy.Context) error {
	if p.OriginURL == "" {
		p.OriginURL = RecordingOrigin
	}
	if p.Expires == 0 {
		p.Expires = caddy.Duration(signers.DefaultExpires)
	}
	return nil
}

// Origin implements signers.Signer.
func (p *Recording) Origin() string { return p.OriginURL }

// DefaultExpires implements signers.Signer.
func (p *Recording) DefaultExpires() time.Duration { return time.Duration(p.Expires) }

// CheckRule implements signers.Signer: every method, no option.
func (p *Recording) CheckRule(ri *signers.RuleInfo) error {
	for _, m := range ri.Methods {
		if !slices.Contains([]string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPost, http.MethodDelete}, m) {
			return fmt.Errorf("method %s is not served by %s profiles", m, RecordingKind)
		}
	}
	return ri.Check(registerRecording(), 0)
}

// Sign implements signers.Signer: it records r and answers its URL.
func (p *Recording) Sign(_ context.Context, r signers.Request) (*signers.Signed, error) {
	p.mu.Lock()
	p.signed = append(p.signed, r)
	p.mu.Unlock()
	exp := r.SignTime.Add(r.Expires)
	if r.Method == http.MethodPost {
		fields := map[string]string{"key": r.Key, "method": r.Method}
		if r.ContentType != "" {
			fields["Content-Type"] = r.ContentType
		}
		return &signers.Signed{URL: p.OriginURL + "/", ExpiresAt: exp, Fields: fields}, nil
	}
	return &signers.Signed{
		URL: RecordingURL(p.OriginURL, r.Method, r.Key, r.ContentType, exp), ExpiresAt: exp,
		Headers: signers.ContentTypeHeader(r.ContentType),
	}, nil
}

// RecordingURL is the URL a recording profile at origin signs for a
// request (not a POST) of method for key, with the Content-Type ct ("":
// none), that expires at exp.
func RecordingURL(origin, method, key, ct string, exp time.Time) string {
	q := url.Values{"method": {method}, "exp": {strconv.FormatInt(exp.Unix(), 10)}}
	if ct != "" {
		q.Set("ct", ct)
	}
	return origin + "/" + (&url.URL{Path: key}).EscapedPath() + "?" + q.Encode()
}

// Signed are the requests the profile was asked to sign, in order.
func (p *Recording) Signed() []signers.Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.signed)
}

// UnmarshalCaddyfile sets up the profile from Caddyfile tokens:
//
//	profile <name> recording {
//		origin <url>
//		expires <duration>
//	}
func (p *Recording) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return signers.ProfileBlock(d, RecordingKind, []signers.Subdirective{
		{Name: "origin", Parse: func() error { return signers.OneArg(d, &p.OriginURL) }},
		{Name: "expires", Parse: func() error { return signers.DurationArg(d, &p.Expires) }},
	})
}

// Interface guards
var (
	_ signers.Signer        = (*Recording)(nil)
	_ caddy.Provisioner     = (*Recording)(nil)
	_ caddyfile.Unmarshaler = (*Recording)(nil)
)
