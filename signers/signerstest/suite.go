package signerstest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-presign/presign/signers"
)

// The conformance suite: one contract, run by every kind's tests with
// Run (modelled on gocloud.dev's blob/drivertest). A kind is done when its
// conformance test passes.

// Kind is a profile kind as the suite runs it: how to make its profiles
// and how to check what they sign, independently of the signer.
type Kind struct {
	// Name is the kind's name, as it declared it with signers.RegisterKind.
	Name string

	// New returns a provisioned profile of the kind. A kind with a Store
	// sends its own calls to store, the URL of the suite's recording
	// server (see Store); store is a URL that nothing answers otherwise.
	New func(t *testing.T, store string) signers.Signer

	// Verify is the kind's independent verifier (not the signer's code):
	// nil when the store or CDN would accept s, the answer to r, at now;
	// else why not. It checks the signature, the lifetime and the
	// permission for r.Method, with the headers and form fields of s.
	Verify func(r signers.Request, s *signers.Signed, now time.Time) error

	// Expiring returns a profile whose credential expires at expiry (whole
	// seconds, within the next hour); nil for a kind whose credentials do
	// not expire.
	Expiring func(t *testing.T, expiry time.Time) signers.Signer

	// NoCredentials returns a profile whose credentials cannot be had
	// (its store, if any, at store); nil for a kind whose credentials
	// cannot fail (a key in the config).
	NoCredentials func(t *testing.T, store string) signers.Signer

	// Store is the store's protocol, for a kind whose profiles are a
	// signers.Store that calls a server; nil otherwise.
	Store *Wire

	// Multipart is the store's protocol of multipart uploads, for a kind
	// whose profiles are a signers.Multipart; nil otherwise.
	Multipart *MultipartWire

	// Files returns a profile whose store is the directory dir, for a
	// kind whose profiles are a signers.Store that reads the local file
	// system (see checkFiles); nil otherwise. At most one of Store and
	// Files.
	Files func(t *testing.T, dir string) signers.Signer

	// Resources are the values of the resource option the suite tries
	// (one or two), each covering the key docs/report.txt, for a kind
	// whose resource is not a URL pattern; nil: origin + "/*" and origin
	// + "/docs/*".
	Resources []string
}

// suiteKey is the object key most checks sign: under "docs/", which the
// resource samples name.
const suiteKey = "docs/report.txt"

// suiteKeys are keys whose escaping the origin and verifier checks try.
var suiteKeys = []string{suiteKey, "docs/a b/ü ñ?#%&=+;.txt", "docs/.hidden/~x(1)!*'.txt"}

// Run runs the suite against the kind k.
func Run(t *testing.T, k Kind) {
	kind := signers.KindNamed(k.Name)
	if kind == nil {
		t.Fatalf("kind %q is not registered", k.Name)
	}
	p := k.New(t, "http://127.0.0.1:9")
	methods := served(p)
	if !slices.Contains(methods, http.MethodGet) {
		t.Fatalf("kind %s refuses a plain GET rule", k.Name)
	}
	t.Run("Options", func(t *testing.T) { checkOptions(t, siteOf(k, p), p, kind) })
	t.Run("Sign", func(t *testing.T) { checkSign(t, k, p, kind, methods) })
	t.Run("Cache", func(t *testing.T) { checkCache(t, k, p, kind, methods) })
	if k.Expiring != nil { // a kind whose credentials never expire has no such check
		t.Run("Expiry", func(t *testing.T) { checkExpiry(t, k) })
	}
	if _, ok := p.(signers.Store); ok != (k.Store != nil || k.Files != nil) || (k.Store != nil && k.Files != nil) {
		t.Fatalf("kind %s: a Store is %v, a Wire given is %v, Files given is %v", k.Name, ok, k.Store != nil, k.Files != nil)
	}
	if k.Store != nil {
		t.Run("Store", func(t *testing.T) { checkStore(t, k) })
	} else if k.Files != nil {
		t.Run("Files", func(t *testing.T) { checkFiles(t, k) })
	}
	if k.Store == nil && k.NoCredentials != nil {
		t.Run("Credentials", func(t *testing.T) { checkCredentials(t, k.NoCredentials(t, "http://127.0.0.1:9")) })
	}
	if _, ok := p.(signers.Multipart); ok != (k.Multipart != nil) {
		t.Fatalf("kind %s: a Multipart is %v, a MultipartWire given is %v", k.Name, ok, k.Multipart != nil)
	}
	if k.Multipart != nil {
		t.Run("Multipart", func(t *testing.T) { checkMultipart(t, k) })
		t.Run("MultipartCalls", func(t *testing.T) { checkMultipartCalls(t, k) })
	}
}

// served are the methods a plain rule of p may have.
func served(p signers.Signer) []string {
	var ms []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPost, http.MethodDelete} {
		if p.CheckRule(ruleInfo(p, []string{m}, &signers.Options{})) == nil {
			ms = append(ms, m)
		}
	}
	return ms
}

func ruleInfo(p signers.Signer, methods []string, o *signers.Options) *signers.RuleInfo {
	return &signers.RuleInfo{Profile: "suite", Methods: methods, Expires: min(p.DefaultExpires(), time.Hour), KeyPrefix: "docs/", Options: o}
}

// sample is one value of a rule option as the suite sets it, for a
// profile at site.
type sample func(o *signers.Options, at site)

// site is what option values name of a profile: its origin, and the
// kind's resources (nil: wildcards of the origin).
type site struct {
	origin    string
	resources []string
}

func siteOf(k Kind, p signers.Signer) site { return site{p.Origin(), k.Resources} }

// resource is the i-th resource value, for folder ("" or "docs/").
func (at site) resource(i int, folder string) string {
	if at.resources != nil {
		return at.resources[min(i, len(at.resources)-1)]
	}
	return at.origin + "/" + folder + "*"
}

// option is what the suite knows of a rule option: values to try, the
// method a rule that has it needs, the methods whose answers it changes
// (none: it does not shape URLs, forms or cookies), and the option it
// needs besides (nil: none).
type option struct {
	values  []sample
	method  string
	affects []string
	needs   sample
}

var get, head, post = http.MethodGet, http.MethodHead, http.MethodPost

// options is the suite's table of every rule option, by JSON name. A new
// field of signers.Options fails the suite until it has a row here.
var options = map[string]option{
	"content_disposition": {[]sample{
		func(o *signers.Options, _ site) { o.ContentDisposition = "attachment" },
		func(o *signers.Options, _ site) { o.ContentDisposition = "inline" },
	}, get, []string{get, head}, nil},
	"content_type": {[]sample{
		func(o *signers.Options, _ site) { o.ContentType = "text/plain" },
		func(o *signers.Options, _ site) { o.ContentType = "image/png" },
	}, get, []string{get, head}, nil},
	"cache_control": {[]sample{
		func(o *signers.Options, _ site) { o.CacheControl = "no-cache" },
		func(o *signers.Options, _ site) { o.CacheControl = "max-age=60" },
	}, get, []string{get, head}, nil},
	"max_size": {[]sample{
		func(o *signers.Options, _ site) { o.MaxSize = 1000 },
		func(o *signers.Options, _ site) { o.MaxSize = 2000 },
	}, post, []string{post}, nil},
	"content_type_prefix": {[]sample{
		func(o *signers.Options, _ site) { o.ContentTypePrefix = signers.TypePrefixes{"image/"} },
	}, http.MethodPut, nil, nil},
	"uppy": {[]sample{func(o *signers.Options, _ site) { o.Uppy = true }}, get, nil, nil},
	"resource": {[]sample{
		func(o *signers.Options, at site) { o.Resource = at.resource(0, "") },
		func(o *signers.Options, at site) { o.Resource = at.resource(1, "docs/") },
	}, get, []string{get, head}, nil},
	"bind_client_ip": {[]sample{func(o *signers.Options, _ site) { o.BindClientIP = true }}, get, []string{get, head}, nil},
	"not_before": {[]sample{
		func(o *signers.Options, _ site) { o.NotBefore = timeAt(1767225600) },
		func(o *signers.Options, _ site) { o.NotBefore = timeAt(1767229200) },
	}, get, []string{get, head}, nil},
	"cookies": {[]sample{func(o *signers.Options, _ site) { o.Cookies = true }}, get, []string{get, head}, nil},
	"cookie_domain": {
		[]sample{func(o *signers.Options, at site) { o.CookieDomain = hostOf(at.origin) }},
		get,
		[]string{get, head},
		func(o *signers.Options, _ site) { o.Cookies = true },
	},
	"browse": {[]sample{func(o *signers.Options, _ site) { o.Browse = true }}, get, nil, nil},
	"browse_template": {
		[]sample{func(o *signers.Options, _ site) { o.BrowseTemplate = "listing.html" }},
		get, nil,
		func(o *signers.Options, _ site) { o.Browse = true },
	},
	"check_exists": {[]sample{func(o *signers.Options, _ site) { o.CheckExists = caddy.Duration(10 * time.Second) }}, get, nil, nil},
}

// timeAt is a pointer to the time of Unix seconds sec, in UTC: a past
// time, at which a link signed now is valid at once.
func timeAt(sec int64) *time.Time {
	t := time.Unix(sec, 0).UTC()
	return &t
}

// hostOf is the host of an origin, without port.
func hostOf(origin string) string {
	h := strings.TrimPrefix(strings.TrimPrefix(origin, "https://"), "http://")
	h, _, _ = strings.Cut(h, "/")
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	return h
}

// optionNames are the JSON names of every field of signers.Options.
func optionNames() []string {
	rt := reflect.TypeFor[signers.Options]()
	names := make([]string, 0, rt.NumField())
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		names = append(names, name)
	}
	return names
}

// checkOptions: the suite knows every option; the kind refuses, at start
// and naming it, every option it did not declare, and accepts each it
// declared with some value.
func checkOptions(t *testing.T, at site, p signers.Signer, kind *signers.Kind) {
	declared := kind.Options()
	for _, name := range optionNames() {
		opt, ok := options[name]
		if !ok {
			t.Errorf("option %s has no row in the suite's table (signerstest.options)", name)
			continue
		}
		for i, set := range opt.values {
			o := new(signers.Options)
			set(o, at)
			if !slices.Contains(declared, name) {
				err := p.CheckRule(ruleInfo(p, []string{get}, o))
				if err == nil {
					t.Errorf("option %s (value %d), which kind %s does not declare, is accepted at start", name, i, kind.Name)
				} else if !strings.Contains(err.Error(), name) {
					t.Errorf("option %s (value %d) is refused without naming it: %v", name, i, err)
				}
				continue
			}
			if opt.needs != nil {
				opt.needs(o, at)
			}
			if err := p.CheckRule(ruleInfo(p, []string{opt.method}, o)); err != nil {
				t.Errorf("option %s (value %d), which kind %s declares, is refused on a %s rule: %v", name, i, kind.Name, opt.method, err)
			}
		}
	}
}

// request is a Request of the rule with options o, bound as the handler
// binds it for a Binder's rule.
func request(t *testing.T, p signers.Signer, method, key string, signTime time.Time, o *signers.Options) signers.Request {
	t.Helper()
	r := signers.Request{Method: method, Key: key, SignTime: signTime, Expires: 10 * time.Minute, Options: o}
	if b, ok := p.(signers.Binder); ok && b.Binds(o) {
		hr := httptest.NewRequest(method, "http://caddy.test/"+key, nil)
		ctx := context.WithValue(hr.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer())
		ctx = context.WithValue(ctx, caddyhttp.VarsCtxKey, map[string]any{caddyhttp.ClientIPVarKey: "192.0.2.7"})
		r = b.Bind(r, hr.WithContext(ctx), key)
		if o.BindClientIP && r.ClientIP != netip.MustParseAddr("192.0.2.7") {
			t.Fatalf("bind_client_ip: Bind took the client IP %s, not Caddy's 192.0.2.7", r.ClientIP)
		}
	}
	return r
}

// signTime is a signing time the suite uses: now, in whole seconds (for
// kinds whose credentials know the clock).
func signTime() time.Time { return time.Now().UTC().Truncate(time.Second) }

// sign signs r with p, failing the test on an error.
func sign(t *testing.T, p signers.Signer, r signers.Request) *signers.Signed {
	t.Helper()
	s, err := p.Sign(context.Background(), r)
	if err != nil {
		t.Fatalf("%s %s: %v", r.Method, r.Key, err)
	}
	return s
}

// underOrigin is the handler's rule: u starts with origin, followed by
// '/', '?' or nothing.
func underOrigin(u, origin string) bool {
	rest, ok := strings.CutPrefix(u, origin)
	return ok && (rest == "" || rest[0] == '/' || rest[0] == '?')
}

// checkSign: every method the kind serves, for several keys, is signed
// under the origin, ends at SignTime + Expires, is accepted by the
// verifier until then and refused from then on; and, without options and
// with each value of each option that shapes it, accepted, and refused
// with any one byte tampered: of the path, of each query parameter's value
// (the expiry and the signature among them), of each form field, of each
// cookie.
func checkSign(t *testing.T, k Kind, p signers.Signer, kind *signers.Kind, methods []string) {
	for _, m := range methods {
		for _, key := range suiteKeys {
			o := new(signers.Options)
			r := request(t, p, m, key, signTime(), o)
			s := sign(t, p, r)
			if !underOrigin(s.URL, p.Origin()) {
				t.Errorf("%s %q: URL %s is not under the origin %s", m, key, s.URL, p.Origin())
			}
			if want := r.SignTime.Add(r.Expires); !s.ExpiresAt.Equal(want) {
				t.Errorf("%s %q: expires at %s, want %s", m, key, s.ExpiresAt, want)
			}
			if err := k.Verify(r, s, r.SignTime.Add(time.Second)); err != nil {
				t.Errorf("%s %q: the verifier refuses %s: %v", m, key, s.URL, err)
			}
			if err := k.Verify(r, s, s.ExpiresAt); err == nil {
				t.Errorf("%s %q: the verifier accepts %s at its expiry", m, key, s.URL)
			}
		}
		for _, o := range tamperRules(siteOf(k, p), p, m, kind) {
			r := request(t, p, m, suiteKey, signTime(), o)
			s := sign(t, p, r)
			if err := k.Verify(r, s, r.SignTime.Add(time.Second)); err != nil {
				t.Errorf("%s with %v: the verifier refuses %s: %v", m, setNames(o), describe(s), err)
			}
			for what, ts := range tampered(s, o.Resource == "") {
				if err := k.Verify(r, ts, r.SignTime.Add(time.Second)); err == nil {
					t.Errorf("%s with %v: the verifier accepts the answer with %s tampered: %s", m, setNames(o), what, describe(ts))
				}
			}
		}
	}
}

// tamperRules are the rules whose answers to m the tampering check tries:
// one without options, and one with each value of each option the kind
// declares that shapes answers to m.
func tamperRules(at site, p signers.Signer, m string, kind *signers.Kind) []*signers.Options {
	rules := []*signers.Options{{}}
	for _, name := range kind.Options() {
		opt := options[name]
		if !slices.Contains(opt.affects, m) {
			continue
		}
		for _, set := range opt.values {
			o := new(signers.Options)
			if opt.needs != nil {
				opt.needs(o, at)
			}
			set(o, at)
			if p.CheckRule(ruleInfo(p, []string{m}, o)) == nil {
				rules = append(rules, o)
			}
		}
	}
	return rules
}

// setNames are the JSON names of the options set in o.
func setNames(o *signers.Options) []string {
	var names []string
	rv := reflect.ValueOf(o).Elem()
	for i, name := range optionNames() {
		if !rv.Field(i).IsZero() {
			names = append(names, name)
		}
	}
	return names
}

// tampered are copies of s with one byte changed: of the URL's path
// (with path; not for a rule with a resource, whose wildcards may cover
// the changed URL), of each query parameter's value, of each form field's
// value, of each cookie's value.
func tampered(s *signers.Signed, path bool) map[string]*signers.Signed {
	out := map[string]*signers.Signed{}
	base, query, _ := strings.Cut(s.URL, "?")
	if i := strings.LastIndexFunc(base, isAlnum); path && i > strings.Index(base, "://")+3 && s.Fields == nil {
		c := *s
		c.URL = base[:i] + string(flip(base[i])) + base[i+1:]
		if query != "" {
			c.URL += "?" + query
		}
		out["the path"] = &c
	}
	if query != "" {
		params := strings.Split(query, "&")
		for i, kv := range params {
			name, value, _ := strings.Cut(kv, "=")
			if j := alnumAt(value); j >= 0 {
				ps := slices.Clone(params)
				ps[i] = name + "=" + value[:j] + string(flip(value[j])) + value[j+1:]
				c := *s
				c.URL = base + "?" + strings.Join(ps, "&")
				out["query parameter "+name] = &c
			}
		}
	}
	for name, value := range s.Fields {
		if j := alnumAt(value); j >= 0 {
			c := *s
			c.Fields = maps.Clone(s.Fields)
			c.Fields[name] = value[:j] + string(flip(value[j])) + value[j+1:]
			out["form field "+name] = &c
		}
	}
	for i, ck := range s.Cookies {
		if j := alnumAt(ck.Value); j >= 0 {
			c := *s
			c.Cookies = slices.Clone(s.Cookies)
			nc := *ck //nolint:gosec // G124: a received cookie, tampered to be sent back; its attributes are the server's
			nc.Value = ck.Value[:j] + string(flip(ck.Value[j])) + ck.Value[j+1:]
			c.Cookies[i] = &nc
			out["cookie "+ck.Name] = &c
		}
	}
	return out
}

func isAlnum(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
}

// alnumAt is the index of the first letter or digit of v that is not
// part of a percent escape (the last one of base64 may carry bits that
// decoders ignore), or -1.
func alnumAt(v string) int {
	for i := 0; i < len(v); i++ {
		if isAlnum(rune(v[i])) && !(i >= 1 && v[i-1] == '%') && !(i >= 2 && v[i-2] == '%') {
			return i
		}
	}
	return -1
}

// flip is another character of b's class.
func flip(b byte) byte {
	switch b {
	case '9':
		return '8'
	case 'z':
		return 'y'
	case 'Z':
		return 'Y'
	}
	return b + 1
}

// checkExpiry: a URL signed with a credential that expires first ends
// with it (ExpiresAt, and the verifier refuses it then); otherwise at
// SignTime + Expires.
func checkExpiry(t *testing.T, k Kind) {
	now := signTime()
	for _, c := range []struct {
		expiry time.Time
		want   func(r signers.Request) time.Time
	}{
		{now.Add(5 * time.Minute), func(signers.Request) time.Time { return now.Add(5 * time.Minute) }},
		{now.Add(time.Hour), func(r signers.Request) time.Time { return r.SignTime.Add(r.Expires) }},
	} {
		p := k.Expiring(t, c.expiry)
		r := request(t, p, http.MethodGet, suiteKey, now, new(signers.Options))
		s := sign(t, p, r)
		if want := c.want(r); !s.ExpiresAt.Equal(want) {
			t.Errorf("credential expiring at %s: expires at %s, want %s", c.expiry, s.ExpiresAt, want)
		}
		if err := k.Verify(r, s, s.ExpiresAt.Add(-time.Second)); err != nil {
			t.Errorf("credential expiring at %s: refused a second before its expiry: %v", c.expiry, err)
		}
		if err := k.Verify(r, s, s.ExpiresAt); err == nil {
			t.Errorf("credential expiring at %s: the URL %s is accepted at %s, its ExpiresAt", c.expiry, s.URL, s.ExpiresAt)
		}
	}
}

// checkCredentials: a profile whose credentials cannot be had fails
// with ErrCredentials (the handler's 503).
func checkCredentials(t *testing.T, p signers.Signer) {
	_, err := p.Sign(context.Background(), request(t, p, http.MethodGet, suiteKey, signTime(), new(signers.Options)))
	if !errors.Is(err, signers.ErrCredentials) {
		t.Errorf("Sign without credentials: %v, want an ErrCredentials", err)
	}
}

// describe shows an answer for a failure message.
func describe(s *signers.Signed) string {
	cookies := make([]string, 0, len(s.Cookies))
	for _, c := range s.Cookies {
		v := c.Value
		if len(v) > 24 {
			v = v[:24] + "..."
		}
		cookies = append(cookies, c.Name+"="+v+"; Domain="+c.Domain)
	}
	return fmt.Sprintf("URL %s, expires at %s, fields %v, cookies %v, headers %v", s.URL, s.ExpiresAt, s.Fields, cookies, s.Headers)
}
