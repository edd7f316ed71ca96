package presign

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-presign/presign/internal/gcsverify"
	"github.com/caddy-presign/presign/signers"
	"github.com/caddy-presign/presign/signers/signerstest"
)

// The handler's tests configure `profile <name> recording { ... }` where
// they test what the handler asks of a kind and answers, not how a kind
// signs (that is each kind's package's, and the conformance suite's).
func init() { signerstest.RegisterRecording() }

// recordingProfile is a Caddyfile profile block of the recording kind;
// extra lines (origin, expires) go inside it.
func recordingProfile(name string, extra ...string) string {
	return `profile ` + name + ` recording {
			` + strings.Join(extra, "\n\t\t\t") + `
		}`
}

// recordingURL is the URL a recording profile with the default origin
// signs for a request of method for key, without Content-Type, that
// expires at exp.
func recordingURL(key, method string, exp time.Time) string {
	return signerstest.RecordingURL(signerstest.RecordingOrigin, method, key, "", exp)
}

// recorded are the requests that h's profile name, of the recording kind,
// was asked to sign, in order.
func recorded(t testing.TB, h *Handler, name string) []signers.Request {
	t.Helper()
	p, ok := h.profiles[name].(*signerstest.Recording)
	if !ok {
		t.Fatalf("profile %s is a %T, not of the recording kind", name, h.profiles[name])
	}
	return p.Signed()
}

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

// recordingSigner tells record of each request its signer is asked to
// sign, so that a test can prove what the handler asked of a kind, or that
// nothing was signed.
type recordingSigner struct {
	signers.Signer
	record func(signers.Request)
}

func (c recordingSigner) Sign(ctx context.Context, r signers.Request) (*signers.Signed, error) {
	c.record(r)
	return c.Signer.Sign(ctx, r)
}

// watchSigns has every rule of h tell record of each request to sign.
func watchSigns(h *Handler, record func(signers.Request)) {
	for _, r := range h.Rules {
		r.signer = recordingSigner{r.signer, record}
	}
}

// countSigns has every rule of h count its signer's calls in the int it
// returns, so that a test can prove that nothing was signed.
func countSigns(h *Handler) *int {
	calls := new(int)
	watchSigns(h, func(signers.Request) { *calls++ })
	return calls
}

// recordSigns has every rule of h record the requests its signer is asked
// to sign, in order, in the slice it returns.
func recordSigns(h *Handler) *[]signers.Request {
	asked := new([]signers.Request)
	watchSigns(h, func(r signers.Request) { *asked = append(*asked, r) })
	return asked
}

// lastSigned is the last request of asked; it fails the test when there
// is none.
func lastSigned(t testing.TB, asked *[]signers.Request) signers.Request {
	t.Helper()
	if len(*asked) == 0 {
		t.Fatal("nothing was signed")
	}
	return (*asked)[len(*asked)-1]
}

// Profiles of each kind for the handler's tests, configured as users do.
// What a kind signs is tested in its own package (signers/<kind>); these
// tests check what the handler asks of it and answers.

// pathFor is the request path for a key under prefix, percent-encoded as a
// browser would send it.
func pathFor(prefix, key string) string {
	return (&url.URL{Path: prefix + key}).EscapedPath()
}

// s3Static is an S3 profile block with static test keys for bucket in
// region; extra lines (an endpoint) go inside it. Signing is local: nothing
// is asked of the endpoint.
func s3Static(name, bucket, region string, extra ...string) string {
	return `profile ` + name + ` s3 {
			bucket ` + bucket + `
			region ` + region + `
			access_key_id AKIDEXAMPLE
			secret_access_key wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
			` + strings.Join(extra, "\n\t\t\t") + `
		}`
}

// nowhere is an endpoint (path-style) that nothing listens on.
var nowhere = []string{"endpoint http://127.0.0.1:9", "path_style"}

// gcsTestAccount writes the V4 conformance tests' service account to a
// temporary file, and returns it: the file, the email and the public key.
func gcsTestAccount(t testing.TB) gcsverify.Account {
	t.Helper()
	a, err := gcsverify.WriteAccount("signers/gcs/testdata/service-account", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// azuriteKey is the well-known key of Azurite's development account
// devstoreaccount1, documented by Microsoft for the emulator only.
const azuriteKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

// The CloudFront test key pair (test-only keys, see signers/cloudfront/testdata).
const (
	cfKeyID      = "K2JCJMDEHXQW5F"
	cfPrivateKey = "signers/cloudfront/testdata/cloudfront-rsa-pkcs1.pem"
	cfPublicKey  = "signers/cloudfront/testdata/cloudfront-rsa-public.pem"
	cfDist       = "d111111abcdef8.cloudfront.net"
)

// cfClock is the tests' fixed clock, 2026-01-01T00:00:00Z.
var cfClock = time.Unix(1767225600, 0)

// cfRuleConfig is a presign block with the CloudFront profile "cdn" on
// cfDist and one rule on it: its path patterns, then its lines after
// "profile cdn".
func cfRuleConfig(t testing.TB, patterns string, lines ...string) string {
	t.Helper()
	return `presign {
		` + cfProfile(t, "cdn", cfDist) + `
		rule ` + patterns + ` {
			profile cdn
			` + strings.Join(lines, "\n\t\t\t") + `
		}
	}`
}

// cfProfile is a Caddyfile CloudFront profile block with the test key.
func cfProfile(t testing.TB, name, domain string, extra ...string) string {
	t.Helper()
	key, err := filepath.Abs(cfPrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	return `profile ` + name + ` cloudfront {
			domain ` + domain + `
			key_pair_id ` + cfKeyID + `
			private_key_file ` + key + `
			` + strings.Join(extra, "\n\t\t\t") + `
		}`
}

// userKinds are the profile kinds registered in a user's build: every
// registered kind but the conformance suite's recording kind
// (signerstest.RegisterRecording), a test double that the handler's tests
// register and no user's build holds.
func userKinds() []caddy.ModuleInfo {
	var kinds []caddy.ModuleInfo
	for _, m := range caddy.GetModules(signers.Namespace) {
		if reflect.TypeOf(m.New()).Elem().PkgPath() != "github.com/caddy-presign/presign/signers/signerstest" {
			kinds = append(kinds, m)
		}
	}
	return kinds
}
