package signers

import (
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// Guard is a Signer that checks its own links: Caddy itself serves what
// they open, through the handlers after this one (file_server,
// reverse_proxy). The handler asks its guards before it matches any rule:
// a request whose path is under a guarded prefix goes on to the next
// handler only when Admit admits it, and is answered 403 or 410 otherwise.
// At start the handler refuses a rule whose path patterns overlap a
// guarded prefix, and two guards whose prefixes overlap.
type Guard interface {
	// Guards is the path prefix the profile guards, such as "/s": the
	// path itself and every path under "/s/". The handler compares it as
	// Caddy's path matcher does, case-insensitively and on the cleaned
	// path, so that no spelling of a path that a `handle_path /s/*`
	// would take slips past the guard. "" guards nothing (a profile that
	// only signs, for another server).
	Guards() string

	// Admit checks the link that r asks for, at now. When it admits it
	// (Admitted), it has removed the link from r (its query parameters
	// or path token from URL and RequestURI, its cookies from the Cookie
	// header), so that the next handlers see a clean request, and set on
	// h, the response's header, what the link binds
	// (Content-Disposition). Otherwise it has changed nothing, and why
	// says what was wrong for a debug log: never a signature or a secret.
	// Checking a good link allocates nothing. Removing it does only where
	// what is left is no part of what r holds, a string Go cannot have
	// without one: the path without a token from its middle (one string,
	// which RequestURI shares, and one more for the raw path when the
	// request has one), and a Cookie line that keeps other cookies beside
	// the link's. So does a header value the link binds.
	Admit(h http.Header, r *http.Request, now time.Time) (v Verdict, why string)
}

// Verdict is a Guard's judgement of a request.
type Verdict uint8

// The verdicts, and the outcomes of caddy_presign_verifications_total.
const (
	Admitted Verdict = iota // a valid link: the request goes on
	Refused                 // no link, a bad or unknown-key signature, not yet valid, another client: 403
	Expired                 // a valid link past its expiry: 410
)

// ClientIP is Caddy's client IP of r (which honours trusted_proxies), or
// the remote address when the request has none; without a zone, an IPv4
// address mapped to IPv6 unmapped. The zero Addr when neither parses.
func ClientIP(r *http.Request) netip.Addr {
	s, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
	if s == "" {
		s, _, _ = net.SplitHostPort(r.RemoteAddr)
	}
	a, _ := netip.ParseAddr(s)
	return a.WithZone("").Unmap()
}
