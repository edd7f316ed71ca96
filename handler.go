package presign

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-presign/presign/signers"
)

// ServeHTTP checks the links of a request under a guarded prefix (see
// guard.go), answers a request that one of the rules matches with a
// presigned URL, and passes every other request on to next.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if len(h.guards) > 0 {
		if gd := h.guardOf(r.URL.Path); gd != nil {
			if err := h.admit(w, r, gd); err != nil {
				return err
			}
			return next.ServeHTTP(w, r)
		}
	}
	rule, err := h.matchRule(r)
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	if rule == nil {
		return next.ServeHTTP(w, r)
	}
	hdr := w.Header()
	cacheControl := []string{"no-store"}
	hdr["Cache-Control"] = cacheControl // canonical already: no Set
	if rule.vary != nil {
		hdr["Vary"] = rule.vary
	}
	if rule.uppy != nil {
		return h.serveUppy(w, r, rule)
	}
	count := rule.metrics.counter(r.Method)
	if rule.methods&methodBit(r.Method) == 0 {
		count.inc(outcomeNotAllowed)
		hdr.Set("Allow", rule.allow)
		return caddyhttp.Error(http.StatusMethodNotAllowed,
			fmt.Errorf("%s answers %s, not %s", rule.name, rule.allow, r.Method))
	}

	var repl *caddy.Replacer // needed only by templates
	if !rule.key.simple {
		repl = r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	}
	path := rule.presignPath(r.URL.Path)
	if rule.Browse && isFolder(r) {
		return h.serveBrowse(w, r, rule, repl, path, count)
	}
	key := rule.key.expand(repl, path)
	if why := checkKey(key); why != "" {
		count.inc(outcomeBadKey)
		return caddyhttp.Error(http.StatusBadRequest, errors.New(why))
	}

	now := h.now()
	if rule.CheckExists != 0 && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		// check_exists: a missing object is a 404 (which Caddy's
		// handle_errors renders); a store that cannot tell is a 502 or
		// 503, never a 404
		ok, err := rule.exists.Exists(r.Context(), key, now, time.Duration(rule.CheckExists))
		if err != nil {
			return h.fail(w, rule, count, err, true)
		}
		if !ok {
			count.inc(outcomeNotFound)
			return caddyhttp.Error(http.StatusNotFound, fmt.Errorf("%s: no object %q", rule.name, key))
		}
	}
	sec := now.Unix()
	sreq := signers.Request{
		Method:   r.Method,
		Key:      key,
		SignTime: time.Unix(sec, 0).UTC(),
		Expires:  rule.expires,
		Options:  &rule.Options,
	}
	var windowEnd int64
	if rule.stable > 0 {
		win := int64(rule.stable / time.Second)
		start := sec - sec%win
		sreq.SignTime = time.Unix(start, 0).UTC()
		windowEnd = start + win
	}
	if rule.binder != nil {
		sreq = rule.binder.Bind(sreq, r, path)
	}
	if len(rule.ContentTypePrefix) > 0 && (r.Method == http.MethodPut || r.Method == http.MethodPost) {
		if sreq.ContentType, err = uploadType(r, rule); err != nil {
			count.inc(outcomeBadKey)
			return err
		}
	}

	signStart := time.Now()
	signed, err := rule.signer.Sign(r.Context(), sreq)
	rule.metrics.observeSigning(time.Since(signStart))
	if err != nil {
		return h.fail(w, rule, count, err, false)
	}
	if !underOrigin(signed.URL, rule.origin) {
		// a bug in the profile's kind, never the request's doing: the URL
		// (which may hold a signature) is not logged, only where it goes
		count.inc(outcomeError)
		h.logger.Error("refusing a presigned URL outside the profile's origin",
			zap.String("rule", rule.name), zap.String("profile", rule.Profile),
			zap.String("origin", rule.origin), zap.String("url_start", urlStart(signed.URL, len(rule.origin)+16)))
		return caddyhttp.Error(http.StatusInternalServerError,
			fmt.Errorf("%s: profile %q signed a URL outside its origin %s", rule.name, rule.Profile, rule.origin))
	}
	count.inc(outcomeSigned)
	if rule.checker != nil && !rule.mistaken.Load() {
		h.check(rule, sreq, signed)
	}
	if ce := h.logger.Check(zapcore.DebugLevel, "presigned"); ce != nil {
		ce.Write(zap.String("rule", rule.name), zap.String("profile", rule.Profile),
			zap.String("key", key), zap.String("method", r.Method), zap.Time("expires_at", signed.ExpiresAt))
	}

	if windowEnd > 0 {
		maxAge := min(windowEnd, signed.ExpiresAt.Unix()) - sec
		if maxAge > 0 {
			cacheControl[0] = "private, max-age=" + strconv.FormatInt(maxAge, 10)
		}
	}
	for _, c := range signed.Cookies {
		hdr.Add("Set-Cookie", c.String())
	}

	switch {
	case r.Method == http.MethodPost:
		return writeJSON(w, http.StatusOK, postAnswer{URL: signed.URL, Fields: signed.Fields, ExpiresAt: rfc3339(signed.ExpiresAt)})
	case rule.json:
		return writeJSON(w, http.StatusOK, urlAnswer{Method: r.Method, URL: signed.URL, Headers: signed.Headers, ExpiresAt: rfc3339(signed.ExpiresAt)})
	}
	status := rule.Status
	if r.Method == http.MethodPut || r.Method == http.MethodDelete {
		status = http.StatusTemporaryRedirect
	}
	hdr["Location"] = []string{signed.URL}
	w.WriteHeader(status)
	return nil
}

// check logs, on the first such answer of the rule, a mistake of the
// config that the answer shows; the answer still goes out.
func (h *Handler) check(rule *Rule, sreq signers.Request, signed *signers.Signed) {
	m := rule.checker.Check(sreq, signed)
	if m == nil || !rule.mistaken.CompareAndSwap(false, true) {
		return
	}
	h.logger.Error(m.Message+" (logged once per rule)",
		append([]zap.Field{zap.String("rule", rule.name), zap.String("profile", rule.Profile)}, m.Fields...)...)
}

// underOrigin tells whether u starts with origin followed by '/', '?' or
// nothing: whether it goes to the profile's host (and path prefix).
// "https://host.evil" and "https://host@evil" are not under "https://host".
func underOrigin(u, origin string) bool {
	if !strings.HasPrefix(u, origin) {
		return false
	}
	return len(u) == len(origin) || u[len(origin)] == '/' || u[len(origin)] == '?'
}

// urlStart is u without its query and fragment, cut to at most n bytes:
// enough to see where it goes, without a signature.
func urlStart(u string, n int) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	if len(u) > n {
		u = u[:n]
	}
	return u
}

// matchRule returns the first rule whose path patterns match r, or nil.
func (h *Handler) matchRule(r *http.Request) (*Rule, error) {
	if h.index != nil {
		return h.index.match(r)
	}
	for _, rule := range h.Rules {
		ok, err := rule.match.MatchWithError(r)
		if err != nil {
			return nil, fmt.Errorf("%s: matching: %v", rule.name, err)
		}
		if ok {
			return rule, nil
		}
	}
	return nil, nil
}

// urlAnswer is the JSON answer of a rule with `respond json`.
type urlAnswer struct {
	Method string `json:"method"`
	URL    string `json:"url"`
	// Headers the request to URL must carry, when the profile needs any.
	Headers   map[string]string `json:"headers,omitempty"`
	ExpiresAt string            `json:"expires_at"`
}

// postAnswer is the JSON answer to a POST: an S3 or GCS POST policy form.
type postAnswer struct {
	URL       string            `json:"url"`
	Fields    map[string]string `json:"fields"`
	ExpiresAt string            `json:"expires_at"`
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// writeJSON answers with v as JSON and the given status.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	return writeBody(w, status, "application/json", append(b, '\n'))
}

// writeBody answers with status and b, a whole document of the given
// Content-Type (JSON answers, browse's HTML page).
func writeBody(w http.ResponseWriter, status int, contentType string, b []byte) error {
	hdr := w.Header()
	hdr["Content-Type"] = []string{contentType}
	hdr["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	_, err := w.Write(b)
	return err
}
