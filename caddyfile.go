package presign

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

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
//		profile <name> <kind> {
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
		return d.Errf("profile needs a name and a kind: profile <name> <%s> { ... }", strings.Join(profileKinds(), "|"))
	}
	name := d.Val()
	if _, dup := h.ProfilesRaw[name]; dup {
		return d.Errf("duplicate profile %q", name)
	}
	if !d.NextArg() {
		return d.Errf("profile %q needs a kind: %s", name, strings.Join(profileKinds(), ", "))
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
	mods := caddy.GetModules(signers.Namespace)
	kinds := make([]string, 0, len(mods))
	for _, m := range mods {
		kinds = append(kinds, m.ID.Name())
	}
	return kinds
}

// ruleSubdirectives are the rule's own subdirectives; the signing options
// (signers.Options) follow them in the error that lists the known ones.
var ruleSubdirectives = []string{"profile", "name", "methods", "strip_prefix", "key", "expires", "stable", "respond", "status"}

// UnmarshalCaddyfile reads `rule <path pattern>... { ... }`; the dispenser
// stands on "rule". The signing options are read by signers.Options.
func (r *Rule) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	r.Path = d.RemainingArgs()
	if len(r.Path) == 0 {
		return d.Errf("rule needs at least one path pattern, e.g. rule /dl/* { ... }")
	}
	for d.NextBlock(1) {
		var err error
		switch opt := d.Val(); opt {
		case "profile":
			err = signers.OneArg(d, &r.Profile)
		case "name":
			err = signers.OneArg(d, &r.Name)
		case "methods":
			r.Methods = d.RemainingArgs()
			if len(r.Methods) == 0 {
				return d.Errf("methods needs at least one of GET, HEAD, PUT, POST, DELETE")
			}
		case "strip_prefix":
			err = signers.OneArg(d, &r.StripPrefix)
		case "key":
			err = signers.OneArg(d, &r.Key)
		case "expires":
			err = signers.DurationArg(d, &r.Expires)
		case "stable":
			err = signers.DurationArg(d, &r.Stable)
		case "respond":
			err = signers.OneArg(d, &r.Respond)
		case "status":
			var s string
			if err = signers.OneArg(d, &s); err == nil {
				if r.Status, err = strconv.Atoi(s); err != nil {
					err = d.Errf("status %q: not a number", s)
				}
			}
		default:
			var known bool
			if known, err = r.UnmarshalCaddyfileOption(d); !known {
				return d.Errf("unknown subdirective %q in rule (%s)", opt,
					strings.Join(append(slices.Clone(ruleSubdirectives), signers.OptionNames()...), ", "))
			}
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
