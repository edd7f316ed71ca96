package presign

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"

	"github.com/caddy-presign/presign/signers"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("presign", parseCaddyfile)
	// after the auth handlers, before respond, reverse_proxy and file_server
	httpcaddyfile.RegisterDirectiveOrder("presign", httpcaddyfile.After, "forward_auth")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	p := new(Handler)
	err := p.UnmarshalCaddyfile(h.Dispenser)
	return p, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens:
//
//	presign [<matcher>] {
//		profile <name> <s3|cloudfront> {
//			...
//		}
//		rule <path pattern>... {
//			...
//		}
//	}
//
// Every unknown or misplaced token is an error that says where it is.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	if d.NextArg() {
		return d.Errf("presign takes a block of profiles and rules, not the argument %q", d.Val())
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "profile":
			if err := h.unmarshalProfile(d); err != nil {
				return err
			}
		case "rule":
			r := new(Rule)
			if err := r.UnmarshalCaddyfile(d); err != nil {
				return fmt.Errorf("rule %d (%s): %w", len(h.Rules)+1, strings.Join(r.Path, " "), err)
			}
			h.Rules = append(h.Rules, r)
		default:
			return d.Errf("unknown subdirective %q in presign (profile, rule)", d.Val())
		}
	}
	return nil
}

// unmarshalProfile reads `profile <name> <kind> { ... }` by handing the block
// to the kind's module, so that a new kind needs no change here.
func (h *Handler) unmarshalProfile(d *caddyfile.Dispenser) error {
	if !d.NextArg() {
		return d.Errf("profile needs a name and a kind: profile <name> s3|cloudfront { ... }")
	}
	name := d.Val()
	if _, dup := h.ProfilesRaw[name]; dup {
		return d.Errf("duplicate profile %q", name)
	}
	if !d.NextArg() {
		return d.Errf("profile %q needs a kind: s3 or cloudfront", name)
	}
	kind := d.Val()
	if _, err := caddy.GetModule(signers.Namespace + "." + kind); err != nil {
		return d.Errf("profile %q: unknown kind %q (%s)", name, kind, strings.Join(profileKinds(), ", "))
	}
	// UnmarshalModule hands the kind's module the segment that starts here
	mod, err := caddyfile.UnmarshalModule(d, signers.Namespace+"."+kind)
	if err != nil {
		return fmt.Errorf("profile %q: %w", name, err)
	}
	if h.ProfilesRaw == nil {
		h.ProfilesRaw = make(map[string]json.RawMessage)
	}
	var warnings []caddyconfig.Warning
	h.ProfilesRaw[name] = caddyconfig.JSONModuleObject(mod, "type", kind, &warnings)
	if len(warnings) > 0 {
		return d.Errf("profile %q: %s", name, warnings[0].Message)
	}
	return nil
}

// profileKinds lists the registered profile kinds.
func profileKinds() []string {
	var kinds []string
	for _, m := range caddy.GetModules(signers.Namespace) {
		kinds = append(kinds, m.ID.Name())
	}
	return kinds
}

// UnmarshalCaddyfile reads `rule <path pattern>... { ... }`; the dispenser
// stands on "rule".
func (r *Rule) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	r.Path = d.RemainingArgs()
	if len(r.Path) == 0 {
		return d.Errf("rule needs at least one path pattern, e.g. rule /dl/* { ... }")
	}
	for d.NextBlock(1) {
		opt := d.Val()
		args := d.RemainingArgs()
		need := func(n int) error {
			if len(args) != n {
				return d.Errf("%s takes %d argument(s), got %d", opt, n, len(args))
			}
			return nil
		}
		one := func(dst *string) error {
			if err := need(1); err != nil {
				return err
			}
			*dst = args[0]
			return nil
		}
		flag := func(dst *bool) error {
			if err := need(0); err != nil {
				return err
			}
			*dst = true
			return nil
		}
		duration := func(dst *caddy.Duration) error {
			if err := need(1); err != nil {
				return err
			}
			v, err := caddy.ParseDuration(args[0])
			if err != nil {
				return d.Errf("%s %s: %v", opt, args[0], err)
			}
			if v <= 0 {
				return d.Errf("%s must be positive, got %s", opt, args[0])
			}
			*dst = caddy.Duration(v)
			return nil
		}
		var err error
		switch opt {
		case "profile":
			err = one(&r.Profile)
		case "methods":
			if len(args) == 0 {
				return d.Errf("methods needs at least one of GET, HEAD, PUT, POST")
			}
			r.Methods = args
		case "strip_prefix":
			err = one(&r.StripPrefix)
		case "key":
			err = one(&r.Key)
		case "expires":
			err = duration(&r.Expires)
		case "stable":
			err = duration(&r.Stable)
		case "respond":
			err = one(&r.Respond)
		case "status":
			if err = need(1); err == nil {
				r.Status, err = strconv.Atoi(args[0])
				if err != nil {
					err = d.Errf("status %q: not a number", args[0])
				}
			}
		case "content_disposition":
			err = one(&r.ContentDisposition)
		case "content_type":
			err = one(&r.ContentType)
		case "cache_control":
			err = one(&r.CacheControl)
		case "max_size":
			if err = need(1); err == nil {
				var n uint64
				n, err = humanize.ParseBytes(args[0])
				if err != nil || n == 0 || n > 1<<62 {
					err = d.Errf("max_size %q: not a size such as 100MB or 5GiB", args[0])
				}
				r.MaxSize = int64(n)
			}
		case "content_type_prefix":
			err = one(&r.ContentTypePrefix)
		case "resource":
			err = one(&r.Resource)
		case "bind_client_ip":
			err = flag(&r.BindClientIP)
		case "cookies":
			if len(args) > 1 {
				return d.Errf("cookies takes at most one argument, the cookie domain")
			}
			r.Cookies = true
			if len(args) == 1 {
				r.CookieDomain = args[0]
			}
		default:
			return d.Errf("unknown subdirective %q in rule (profile, methods, strip_prefix, key, expires, stable, respond, status, content_disposition, content_type, cache_control, max_size, content_type_prefix, resource, bind_client_ip, cookies)", opt)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Interface guards
var (
	_ caddyfile.Unmarshaler = (*Handler)(nil)
	_ caddyfile.Unmarshaler = (*Rule)(nil)
)
