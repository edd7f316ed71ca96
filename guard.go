package presign

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-presign/presign/signers"
)

// guard is a profile that checks its own links (signers.Guard), and the
// prefix it guards.
type guard struct {
	g       signers.Guard
	profile string
	prefix  string // as configured, e.g. "/s"
	lower   string // prefix in lower case
	counts  [3]prometheus.Counter
}

// The errors of refused links: they name no part of the link.
var (
	errLinkRefused = errors.New("no valid link for this path")
	errLinkExpired = errors.New("the link has expired")
)

// provisionGuards finds the profiles that guard a prefix, and refuses two
// guards whose prefixes overlap and a rule whose path patterns reach under
// a guarded prefix: its answers would be refused, or loop.
func (h *Handler) provisionGuards(m *metrics) error {
	names := make([]string, 0, len(h.profiles))
	for name := range h.profiles {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		g, ok := h.profiles[name].(signers.Guard)
		if !ok || g.Guards() == "" {
			continue
		}
		gd := &guard{g: g, profile: name, prefix: g.Guards(), lower: strings.ToLower(g.Guards())}
		for _, o := range h.guards {
			if underPrefix(gd.lower, o.lower) || underPrefix(o.lower, gd.lower) {
				return fmt.Errorf("profiles %q and %q guard overlapping prefixes %s and %s", o.profile, name, o.prefix, gd.prefix)
			}
		}
		for v := range gd.counts {
			gd.counts[v] = m.verifications.WithLabelValues(name, verdictNames[v])
		}
		h.guards = append(h.guards, gd)
	}
	for _, r := range h.Rules {
		for _, gd := range h.guards {
			for _, p := range r.Path {
				if patternOverlaps(strings.ToLower(p), gd.lower) {
					return fmt.Errorf("%s: path pattern %s overlaps %s, which profile %q guards: a rule's paths must lie outside every guarded prefix",
						r.name, p, gd.prefix, gd.profile)
				}
			}
		}
	}
	return nil
}

// verdictNames are the outcome labels of caddy_presign_verifications_total.
var verdictNames = [...]string{signers.Admitted: "verified", signers.Refused: "refused", signers.Expired: "expired"}

// underPrefix tells whether p, lower case, is prefix or lies under it.
func underPrefix(p, prefix string) bool {
	return strings.HasPrefix(p, prefix) && (len(p) == len(prefix) || p[len(prefix)] == '/')
}

// patternOverlaps tells whether a path pattern (lower case, with Caddy's
// path matcher's semantics) may match a path under prefix: its text
// before the first '*' and prefix + "/" are one a prefix of the other.
func patternOverlaps(pattern, prefix string) bool {
	lit, _, wild := strings.Cut(pattern, "*")
	if !wild {
		return underPrefix(caddyhttp.CleanPath(lit, true), prefix)
	}
	dir := prefix + "/"
	return strings.HasPrefix(lit, dir) || strings.HasPrefix(dir, lit) || lit == prefix
}

// guardOf returns the guard whose prefix the request's path lies under, as
// Caddy's path matcher sees it (case-insensitively, cleaned), or nil.
func (h *Handler) guardOf(p string) *guard {
	if !plainPath(p) {
		p = caddyhttp.CleanPath(strings.ToLower(p), true)
	}
	for _, gd := range h.guards {
		if len(p) >= len(gd.lower) && strings.EqualFold(p[:len(gd.lower)], gd.lower) &&
			(len(p) == len(gd.lower) || p[len(gd.lower)] == '/') {
			return gd
		}
	}
	return nil
}

// plainPath tells whether p is ASCII, starts with '/' and has no "//", "/."
// or '\': a path that Caddy's matcher compares as it is, up to ASCII case.
func plainPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c >= 0x80 || c == '\\':
			return false
		case c == '/' && i+1 < len(p) && (p[i+1] == '/' || p[i+1] == '.'):
			return false
		}
	}
	return true
}

// admit answers a request under gd's prefix: nil when the link is valid
// (the request goes on, cleaned of it), else the 403 or 410 error.
func (h *Handler) admit(w http.ResponseWriter, r *http.Request, gd *guard) error {
	v, why := gd.g.Admit(w.Header(), r, h.now())
	gd.counts[v].Inc()
	if v == signers.Admitted {
		return nil
	}
	if ce := h.logger.Check(zapcore.DebugLevel, "refused a link"); ce != nil {
		// the path, never the query, which holds the signature
		ce.Write(zap.String("profile", gd.profile), zap.String("path", r.URL.Path), zap.String("why", why))
	}
	w.Header()["Cache-Control"] = []string{"no-store"}
	if v == signers.Expired {
		return caddyhttp.Error(http.StatusGone, errLinkExpired)
	}
	return caddyhttp.Error(http.StatusForbidden, errLinkRefused)
}
