package presign

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/caddy-presign/presign/signers"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler answers requests that match one of its rules with a presigned URL
// (a redirect, JSON, or an S3 POST form).
type Handler struct {
	// The profiles, by name: each an object whose "type" names its kind
	// ("s3" or "cloudfront") and whose other fields are that kind's options.
	ProfilesRaw map[string]json.RawMessage `json:"profiles,omitempty" caddy:"namespace=http.handlers.presign.profiles inline_key=type"`

	// The rules, tried in order: the first whose path patterns match the
	// request answers it. A request that no rule matches goes on to the
	// next handler.
	Rules []*Rule `json:"rules,omitempty"`

	profiles map[string]signers.Signer
	guards   []*guard   // the profiles that check their own links under a prefix
	index    *ruleIndex // nil: the rules are few and tried in turn
	logger   *zap.Logger
	now      func() time.Time
}

// Rule maps request paths to object keys in one profile.
type Rule struct {
	// Path patterns with the semantics of Caddy's path matcher: "/dl/*",
	// "*.jpg", "/exact". Case-insensitive, matched against the cleaned
	// path. Required.
	Path []string `json:"path,omitempty"`

	// The name of the profile that signs for this rule. Required.
	Profile string `json:"profile,omitempty"`

	// The rule's label in the metrics (rule="..."). Default: its path
	// patterns, joined by spaces. Rules with the same label and profile
	// share their series, and so are counted together.
	Name string `json:"name,omitempty"`

	// The methods the rule answers: GET, HEAD, PUT, POST, DELETE. Others
	// get 405 with an Allow header. Default: GET and HEAD.
	Methods []string `json:"methods,omitempty"`

	// A prefix removed from the request path before it becomes
	// {presign.path}, compared case-insensitively like the path matcher.
	StripPrefix string `json:"strip_prefix,omitempty"`

	// The object key: a template over {presign.path} (the request path,
	// percent-decoded but not cleaned, after strip_prefix, without its
	// leading "/") and any Caddy placeholder, e.g.
	// "users/{http.auth.user.id}/{presign.path}". Default: "{presign.path}".
	// Rules with uppy use {presign.filename} and {presign.uuid} instead of
	// {presign.path} (see signers.Options.Uppy); their default is
	// "{presign.uuid}/{presign.filename}".
	Key string `json:"key,omitempty"`

	// The URLs' lifetime; overrides the profile's.
	Expires caddy.Duration `json:"expires,omitempty"`

	// Sign with the start of the current window (aligned to the Unix epoch)
	// so that every request for a key within the window gets the same URL,
	// which browsers and CDNs can then cache; answers carry
	// "Cache-Control: private, max-age=<rest of the window>". Must be
	// shorter than expires; URLs then live at least expires - stable.
	Stable caddy.Duration `json:"stable,omitempty"`

	// "redirect" (default) or "json": 200 with {"method", "url",
	// "expires_at"} instead of a redirect.
	Respond string `json:"respond,omitempty"`

	// The status of GET and HEAD redirects: 302 (default), 303 or 307. PUT
	// and DELETE are always redirected with 307, which keeps the method
	// (and PUT's body).
	Status int `json:"status,omitempty"`

	// The signing options (content_disposition, content_type,
	// cache_control, max_size, content_type_prefix, resource,
	// bind_client_ip, cookies, cookie_domain, browse, browse_template,
	// check_exists), each documented in
	// signers.Options: the profile's kind uses them and refuses those it
	// does not support.
	signers.Options

	name       string // "rule 2 (/dl/*)", for logs and errors
	match      caddyhttp.MatchPath
	signer     signers.Signer
	binder     signers.Binder  // the signer when the rule's URLs need more of the request than the key; else nil
	checker    signers.Checker // the signer when it checks the rule's answers for mistakes of the config; else nil
	origin     string          // the signer's Origin(): every URL sent starts with it
	methods    methodSet
	allow      string // the Allow header
	key        keyTemplate
	expires    time.Duration
	stable     time.Duration
	json       bool
	stripLower string
	metrics    ruleMetrics
	store      signers.Store      // browse and check_exists: the profile's store
	exists     *signers.Existence // check_exists: the profile's, which its rules share
	browseTpl  *template.Template // browse: the HTML page
	mistaken   atomic.Bool        // checker found a mistake of the config, which was logged
	uppy       *uppyRule          // nil unless Uppy
	vary       []string           // varyUser when the rule's URLs depend on more of the request than its path; else nil
}

// varyUser is the Vary of answers whose URL depends on who asks (a key or
// resource template that reads the request): a cache shared by two users,
// a browser's included, must not give one user's answer to the other. It
// is shared by every such answer, and its length is its capacity, so that
// a later Add (browse's Vary: Accept) copies it.
var varyUser = []string{"Authorization, Cookie"}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.presign",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision loads the profiles, fills the rules' defaults and checks
// everything, so that a config that cannot work stops Caddy at start.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	h.now = time.Now

	names := make([]string, 0, len(h.ProfilesRaw))
	for name := range h.ProfilesRaw {
		names = append(names, name)
	}
	sort.Strings(names)
	h.profiles = make(map[string]signers.Signer, len(names))
	for _, name := range names {
		if name == "" {
			return fmt.Errorf("a profile has an empty name")
		}
		raw := map[string]json.RawMessage{name: h.ProfilesRaw[name]}
		mods, err := ctx.LoadModule(&struct {
			P map[string]json.RawMessage `caddy:"namespace=http.handlers.presign.profiles inline_key=type"`
		}{raw}, "P")
		if err != nil {
			return fmt.Errorf("profile %q: %v", name, err)
		}
		s, ok := mods.(map[string]any)[name].(signers.Signer)
		if !ok {
			return fmt.Errorf("profile %q: module %T is not a signer", name, mods.(map[string]any)[name])
		}
		h.profiles[name] = s
	}
	h.ProfilesRaw = nil

	var reg prometheus.Registerer
	if r := ctx.GetMetricsRegistry(); r != nil {
		reg = r
	}
	m, err := newMetrics(reg)
	if err != nil {
		return fmt.Errorf("registering metrics: %v", err)
	}
	for name, s := range h.profiles {
		if rs, ok := s.(signers.RemoteSigner); ok {
			rs.SetRemoteObserver(remoteObserver{m, name})
		}
	}

	existence := map[string]*signers.Existence{} // per profile, made for its first rule with check_exists
	for i, r := range h.Rules {
		if r == nil {
			return fmt.Errorf("rule %d: empty", i+1)
		}
		r.name = fmt.Sprintf("rule %d (%s)", i+1, strings.Join(r.Path, " "))
		if err := r.provision(ctx, h.profiles); err != nil {
			return fmt.Errorf("%s: %v", r.name, err)
		}
		if r.CheckExists != 0 {
			if existence[r.Profile] == nil {
				existence[r.Profile] = signers.NewExistence(r.store)
			}
			r.exists = existence[r.Profile]
		}
		m.forRule(&r.metrics, r.Profile, ruleLabel(r))
	}
	if err := h.provisionGuards(m); err != nil {
		return err
	}
	if len(h.Rules) == 0 && len(h.guards) == 0 {
		return fmt.Errorf("no rule: add at least one rule")
	}
	if len(h.Rules) > scanRules {
		h.index = newRuleIndex(h.Rules)
	}
	return nil
}

func (r *Rule) provision(ctx caddy.Context, profiles map[string]signers.Signer) error {
	if len(r.Path) == 0 {
		return fmt.Errorf("no path pattern")
	}
	for _, p := range r.Path {
		if p == "" {
			return fmt.Errorf("empty path pattern")
		}
	}
	r.match = caddyhttp.MatchPath(slices.Clone(r.Path))
	if err := r.match.Provision(ctx); err != nil {
		return err
	}
	if r.Profile == "" {
		return fmt.Errorf("no profile: name one with 'profile <name>'")
	}
	r.signer = profiles[r.Profile]
	if r.signer == nil {
		known := make([]string, 0, len(profiles))
		for n := range profiles {
			known = append(known, n)
		}
		sort.Strings(known)
		return fmt.Errorf("unknown profile %q (profiles: %s)", r.Profile, strings.Join(known, ", "))
	}
	if b, ok := r.signer.(signers.Binder); ok && b.Binds(&r.Options) {
		r.binder = b
	}
	if c, ok := r.signer.(signers.Checker); ok && c.Checks(&r.Options) {
		r.checker = c
	}
	r.origin = r.signer.Origin()
	if !validOrigin(r.origin) {
		return fmt.Errorf("profile %q: origin %q is neither an absolute URL nor a path", r.Profile, r.origin)
	}

	if r.Uppy {
		if err := r.provisionUppy(); err != nil {
			return err
		}
	}
	if len(r.Methods) == 0 {
		r.Methods = []string{http.MethodGet, http.MethodHead}
	}
	r.methods = 0
	for i, m := range r.Methods {
		m = strings.ToUpper(m)
		r.Methods[i] = m
		bit := methodBit(m)
		if bit == 0 {
			return fmt.Errorf("method %q: only GET, HEAD, PUT, POST and DELETE can be presigned", m)
		}
		if r.methods&bit != 0 {
			return fmt.Errorf("method %s listed twice", m)
		}
		r.methods |= bit
	}
	r.allow = strings.Join(r.Methods, ", ")

	if r.StripPrefix != "" && !strings.HasPrefix(r.StripPrefix, "/") {
		r.StripPrefix = "/" + r.StripPrefix
	}
	// "/files/" strips like "/files": what follows keeps its leading "/",
	// so "/files//x" is refused (an empty segment) rather than cleaned to "x"
	if len(r.StripPrefix) > 1 {
		r.StripPrefix = strings.TrimRight(r.StripPrefix, "/")
	}
	r.stripLower = strings.ToLower(r.StripPrefix)
	if r.Key == "" {
		r.Key = pathPlaceholder
	}
	r.key = parseKeyTemplate(r.Key)
	if readsRequest(r.Key) || readsRequest(r.Resource) {
		r.vary = varyUser
	}

	r.expires = time.Duration(r.Expires)
	if r.expires == 0 {
		r.expires = r.signer.DefaultExpires()
	}
	if err := r.signer.CheckRule(&signers.RuleInfo{
		Profile:   r.Profile,
		Methods:   r.Methods,
		Expires:   r.expires,
		KeyPrefix: r.keyPrefix(),
		Options:   &r.Options,
	}); err != nil {
		return fmt.Errorf("profile %q: %v", r.Profile, err)
	}
	if err := r.provisionStore(); err != nil {
		return err
	}
	r.stable = time.Duration(r.Stable)
	if r.stable < 0 || r.stable%time.Second != 0 {
		return fmt.Errorf("stable must be a positive number of whole seconds, got %s", r.stable)
	}
	if r.stable >= r.expires {
		return fmt.Errorf("stable %s must be shorter than expires %s (URLs live at least expires - stable)", r.stable, r.expires)
	}

	switch r.Respond {
	case "", "redirect":
	case "json":
		r.json = true
	default:
		return fmt.Errorf("respond must be redirect or json, got %q", r.Respond)
	}
	switch r.Status {
	case 0:
		r.Status = http.StatusFound
	case http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect:
	default:
		return fmt.Errorf("status must be 302, 303 or 307, got %d", r.Status)
	}
	return nil
}

// validOrigin tells whether a signer's origin is an absolute URL, or a
// path ("/s", never "//host") for a kind whose links are relative.
func validOrigin(o string) bool {
	if strings.HasPrefix(o, "/") {
		return len(o) > 1 && o[1] != '/' && !strings.ContainsAny(o, "?#")
	}
	u, err := url.Parse(o)
	return err == nil && u.Scheme != "" && u.Host != ""
}

// methodSet is a set of the methods a rule answers.
type methodSet uint8

func methodBit(m string) methodSet {
	switch m {
	case http.MethodGet:
		return 1
	case http.MethodHead:
		return 2
	case http.MethodPut:
		return 4
	case http.MethodPost:
		return 8
	case http.MethodDelete:
		return 16
	}
	return 0
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
