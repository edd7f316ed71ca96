package presign

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-presign/presign/signers"
)

// parseBlock parses a presign Caddyfile block into a Handler.
func parseBlock(block string) (*Handler, error) {
	h := new(Handler)
	err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(block))
	return h, err
}

// provisionJSON provisions a handler from its JSON config, as Caddy does.
func provisionJSON(t testing.TB, raw []byte) (*Handler, error) {
	t.Helper()
	h := new(Handler)
	if err := json.Unmarshal(raw, h); err != nil {
		return nil, err
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	return h, h.Provision(ctx)
}

// newHandler parses a presign Caddyfile block, round-trips it through its
// JSON config and provisions it; any error fails the test.
func newHandler(t testing.TB, block string) *Handler {
	t.Helper()
	h, err := parseBlock(block)
	if err != nil {
		t.Fatalf("parsing the Caddyfile: %v", err)
	}
	h, err = provisionJSON(t, caddyconfig.JSON(h, nil))
	if err != nil {
		t.Fatalf("provisioning: %v", err)
	}
	return h
}

// answer is what a client sees of one request through the handler.
type answer struct {
	Code   int
	Header http.Header
	Body   string
	Err    error         // the error the handler returned (Caddy turns it into Code)
	Next   bool          // the request went on to the next handler
	Req    *http.Request // the request as prepared by Caddy
}

// serve runs one request through h as Caddy would: a prepared request with
// a replacer, and the handler's error turned into its status. mods can set
// headers, the remote address or context values before preparation.
func serve(t testing.TB, h *Handler, method, target string, mods ...func(*http.Request)) answer {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for _, m := range mods {
		m(r)
	}
	return serveRequest(t, h, r, "")
}

// serveRequest runs r through h as serve does. A user other than "" is set
// as http.auth.user.id after the request was prepared, as Caddy's
// authentication handler does for a user it accepted.
func serveRequest(t testing.TB, h *Handler, r *http.Request, user string) answer {
	t.Helper()
	method, target := r.Method, r.URL.String()
	w := httptest.NewRecorder()
	repl := caddy.NewReplacer()
	r = caddyhttp.PrepareRequest(r, repl, w, nil)
	if user != "" {
		repl.Set("http.auth.user.id", user)
	}
	a := answer{Req: r}
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		a.Next = true
		w.WriteHeader(http.StatusTeapot)
		return nil
	})
	err := h.ServeHTTP(w, r, next)
	if err != nil {
		var he caddyhttp.HandlerError
		if !errors.As(err, &he) {
			t.Fatalf("%s %s: the handler returned a %T, not a caddyhttp.HandlerError: %v", method, target, err, err)
		}
		w.WriteHeader(he.StatusCode)
	}
	a.Code, a.Header, a.Body, a.Err = w.Code, w.Result().Header, w.Body.String(), err
	return a
}

// at fixes the handler's clock.
func at(h *Handler, t time.Time) { h.now = func() time.Time { return t } }

// countingSigner counts its signer's calls, so that a test can prove that
// nothing was signed.
type countingSigner struct {
	signers.Signer
	n *int
}

func (c countingSigner) Sign(ctx context.Context, r signers.Request) (*signers.Signed, error) {
	*c.n++
	return c.Signer.Sign(ctx, r)
}

// countSigns has every rule of h count its signer's calls in the int it
// returns, so that a test can prove that nothing was signed.
func countSigns(h *Handler) *int {
	calls := new(int)
	for _, r := range h.Rules {
		r.signer = countingSigner{r.signer, calls}
	}
	return calls
}
