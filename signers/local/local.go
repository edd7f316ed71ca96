package local

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-presign/presign/signers"
)

func init() {
	caddy.RegisterModule(Local{})
}

// localKind is the local kind: its name, and the rule options it serves.
var localKind = signers.RegisterKind("local", 5,
	"content_disposition", "resource", "bind_client_ip", "not_before", "cookies", "browse", "browse_template", "check_exists")

// MinSecret is the shortest secret a key may have, in bytes.
const MinSecret = 32

// Local is a profile whose links Caddy signs and Caddy checks: the files
// are served by the handlers after presign (file_server, reverse_proxy),
// on this server under serve, or on another Caddy that shares the keys
// (base). Its links follow a documented format (see link.go and
// docs/providers.md) that other programs can mint: HMAC-SHA256 over the path (or a
// folder, with a rule's resource), the expiry, the key's id and what the
// rule binds (the client's IP, the Content-Disposition).
type Local struct {
	// The keys: the first signs, every one verifies, so that a new key
	// can be put first while links of the old one still work. Each
	// secret is at least 32 bytes, and placeholders are expanded at start
	// ({env.LINK_KEY}, {file./run/secrets/link-key}). At least one.
	Keys []Key `json:"keys,omitempty"`

	// The path prefix of the links, which this handler guards: every
	// request under it needs a valid link (403 without, 410 once expired)
	// and goes on, cleaned of the link's parameters, to the next handlers.
	// E.g. "/s". At least one of serve and base is required.
	Serve string `json:"serve,omitempty"`

	// Makes links absolute: scheme://host[/path] before serve (and the
	// key), for a fleet where this Caddy signs and another serves with the
	// same keys. Without it, links are relative: serve + "/" + key.
	Base string `json:"base,omitempty"`

	// A directory whose files the links open, which browse and
	// check_exists read, through Go's os.Root: no symlink or ".." leaves
	// it. Needed by browse and check_exists only.
	Root string `json:"root,omitempty"`

	// Default lifetime of the links; rules may override it. Default 15m.
	Expires caddy.Duration `json:"expires,omitempty"`

	keys   []*hmacKey
	serve  string   // the guarded prefix; "" when none
	prefix string   // the links' path before "/" + key: base's path + serve
	origin string   // base + serve, or serve: what every link starts with
	root   *os.Root // nil without Root
}

// Key is one key of a local profile.
type Key struct {
	// The key's id, written in links (pl_kid): letters, digits, '-' and
	// '_', at most 64.
	ID string `json:"id,omitempty"`
	// The secret, at least 32 bytes; placeholders expanded at start.
	Secret string `json:"secret,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Local) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  caddy.ModuleID(localKind.ModuleID()),
		New: func() caddy.Module { return new(Local) },
	}
}

// Provision expands placeholders, fills defaults and checks the profile.
// Errors never hold a secret.
func (l *Local) Provision(caddy.Context) error {
	if len(l.Keys) == 0 {
		return errors.New("a key is required: key <id> <secret of 32 bytes or more, e.g. {file./run/secrets/link-key}>")
	}
	l.keys = make([]*hmacKey, 0, len(l.Keys))
	for i, k := range l.Keys {
		id := signers.Expand(k.ID)
		if !validKeyID(id) {
			return fmt.Errorf("key %d: the id must be 1 to 64 letters, digits, '-' or '_'", i+1)
		}
		for _, prev := range l.keys {
			if prev.id == id {
				return fmt.Errorf("key %s is listed twice", id)
			}
		}
		secret := signers.Expand(k.Secret)
		if len(secret) < MinSecret {
			return fmt.Errorf("key %s: the secret has %d bytes, fewer than %d (is its placeholder's variable or file set?); make one with `openssl rand -base64 48`",
				id, len(secret), MinSecret)
		}
		l.keys = append(l.keys, newHMACKey(id, []byte(secret)))
	}

	serve, base := signers.Expand(l.Serve), signers.Expand(l.Base)
	if serve == "" && base == "" {
		return errors.New("serve or base is required: serve <path prefix> guards the links here, base <https://host[/path]> signs for another server")
	}
	if serve != "" {
		if !validPrefix(serve) {
			return fmt.Errorf("serve %q: a clean path prefix such as /s: starting with '/', not '/' alone, without trailing '/', empty, '.' or '..' segments, and only printable ASCII but %%*?{}\\ and spaces", serve)
		}
		l.serve = serve
	}
	l.origin = serve
	l.prefix = serve
	if base != "" {
		u, err := url.Parse(base)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Opaque != "" ||
			u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
			return fmt.Errorf("base %q must be https://host[/path] (or http://)", base)
		}
		bp := strings.TrimRight(u.Path, "/")
		if bp != "" && !validPrefix(bp) {
			return fmt.Errorf("base %q: its path must be clean, printable ASCII without %%*?{}\\ or spaces", base)
		}
		l.prefix = bp + serve
		l.origin = u.Scheme + "://" + strings.ToLower(u.Host) + l.prefix
	}

	if l.Root != "" {
		dir := signers.Expand(l.Root)
		r, err := os.OpenRoot(dir)
		if err != nil {
			return fmt.Errorf("root: %v", err)
		}
		l.root = r
	}

	if l.Expires == 0 {
		l.Expires = caddy.Duration(signers.DefaultExpires)
	}
	return signers.CheckExpires(time.Duration(l.Expires), 0, "the")
}

// Cleanup closes the root directory.
func (l *Local) Cleanup() error {
	if l.root != nil {
		return l.root.Close()
	}
	return nil
}

// validKeyID tells whether id can be a key's id: 1 to 64 bytes of
// letters, digits, '-' and '_', which a query carries as they are.
func validKeyID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if b := id[i]; !('A' <= b && b <= 'Z' || 'a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '-' || b == '_') {
			return false
		}
	}
	return true
}

// validPrefix tells whether p can be serve, or base's path: clean,
// starting with '/', not "/" alone, printable ASCII without the bytes
// that patterns, placeholders and escapes give a meaning to.
func validPrefix(p string) bool {
	if len(p) < 2 || p[0] != '/' || path.Clean(p) != p {
		return false
	}
	for i := 0; i < len(p); i++ {
		if b := p[i]; b <= ' ' || b >= 0x7f || strings.IndexByte(`%*?{}\`, b) >= 0 {
			return false
		}
	}
	return true
}

// Origin implements Signer: base + serve, or serve alone for relative
// links.
func (l *Local) Origin() string { return l.origin }

// DefaultExpires implements Signer.
func (l *Local) DefaultExpires() time.Duration { return time.Duration(l.Expires) }

// Guards implements signers.Guard.
func (l *Local) Guards() string { return l.serve }

// CheckRule implements Signer. Local links open downloads; they set no
// limit on expires.
func (l *Local) CheckRule(ri *signers.RuleInfo) error {
	for _, m := range ri.Methods {
		if m != http.MethodGet && m != http.MethodHead {
			return fmt.Errorf("method %s: local links open downloads only (GET, HEAD); put uploads behind another handler", m)
		}
	}
	if ri.Options.Uppy {
		return errors.New("uppy: local links open downloads only; uppy uploads need an s3 profile")
	}
	if err := ri.Check(localKind, 0); err != nil {
		return err
	}
	if err := ri.CheckStore(); err != nil {
		return err
	}
	if (ri.Options.Browse || ri.Options.CheckExists != 0) && l.root == nil {
		return errors.New("browse and check_exists read the profile's files: set root <dir> in the profile")
	}
	o := ri.Options
	if o.Resource != "" {
		if err := checkResource(o.Resource, ri.KeyPrefix); err != nil {
			return err
		}
		if !o.Cookies && (o.BindClientIP || o.ContentDisposition != "" || o.NotBefore != nil) {
			return errors.New("resource: a folder link binds no client IP, Content-Disposition or not_before; with cookies, its cookie binds the first and the last")
		}
	}
	if o.Cookies && o.ContentDisposition != "" {
		return errors.New("cookies: a cookie binds no Content-Disposition; drop one of them")
	}
	return nil
}

// checkResource checks a rule's resource r, a folder of object keys, for
// a rule whose keys start with keyPrefix (up to case): ending in "/*",
// with no other '*', and made of segments that a key can have, so that
// it cannot fail only when a link is signed.
func checkResource(r, keyPrefix string) error {
	if strings.Contains(r, "://") {
		return fmt.Errorf("resource %q: a local folder is a prefix of object keys, such as experiment.zarr/*, not a URL", r)
	}
	if !strings.HasSuffix(r, "/*") || strings.Count(r, "*") != 1 || strings.HasPrefix(r, "/") {
		return fmt.Errorf("resource %q: a folder of object keys ending in /*, such as experiment.zarr/* or {http.auth.user.id}/*", r)
	}
	// the text before any placeholder: whole segments must be valid ones
	lit := r[:strings.IndexAny(r, "{*")]
	segs := strings.Split(lit, "/")
	for _, seg := range segs[:len(segs)-1] {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("resource %q: an empty, '.' or '..' segment, which no object key has", r)
		}
	}
	if n := min(len(lit), len(keyPrefix)); !strings.EqualFold(lit[:n], keyPrefix[:n]) {
		return fmt.Errorf("resource %q: this rule's keys start with %q, outside the folder; set strip_prefix or key so that they lie in it", r, keyPrefix)
	}
	return nil
}

// UnmarshalCaddyfile sets up the profile from Caddyfile tokens. The
// dispenser stands on the kind ("local") of
//
//	profile <name> local {
//		key <id> <secret>
//		serve <path prefix>
//		...
//	}
func (l *Local) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return signers.ProfileBlock(d, localKind.Name, []signers.Subdirective{
		{Name: "key", Parse: func() error {
			// never echo the secret's tokens
			var k Key
			if !d.NextArg() {
				return d.Err("key needs an id and a secret: key <id> <secret>")
			}
			k.ID = d.Val()
			if !d.NextArg() {
				return d.Errf("key %s needs a secret: key <id> <secret>", k.ID)
			}
			k.Secret = d.Val()
			if d.NextArg() {
				return d.Err("key takes an id and one secret (not shown); quote a secret with spaces, or use {env.X} or {file.P}")
			}
			l.Keys = append(l.Keys, k)
			return nil
		}},
		{Name: "serve", Parse: func() error { return signers.OneArg(d, &l.Serve) }},
		{Name: "base", Parse: func() error { return signers.OneArg(d, &l.Base) }},
		{Name: "root", Parse: func() error { return signers.OneArg(d, &l.Root) }},
		{Name: "expires", Parse: func() error { return signers.DurationArg(d, &l.Expires) }},
	})
}

// Interface guards
var (
	_ signers.Signer        = (*Local)(nil)
	_ signers.Binder        = (*Local)(nil)
	_ signers.Guard         = (*Local)(nil)
	_ signers.Store         = (*Local)(nil)
	_ caddy.Provisioner     = (*Local)(nil)
	_ caddy.CleanerUpper    = (*Local)(nil)
	_ caddyfile.Unmarshaler = (*Local)(nil)
)
