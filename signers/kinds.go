package signers

import (
	"fmt"
	"slices"
)

// Kind is what a profile kind declares of itself, in its own file, with
// RegisterKind: its name, the rule options it serves, and where it comes
// in lists of kinds.
type Kind struct {
	// Name is the kind's module name (Namespace + "." + name), its
	// Caddyfile keyword and its name in errors.
	Name string
	// order places the kind in the lists of kinds that errors show: the
	// order in which kinds joined the module; a new kind takes the next.
	order int
	// options are the JSON names of the rule options (rows of
	// ruleOptions) the kind serves; it refuses the others in CheckRule.
	options []string
}

// kinds are the registered kinds, in their order.
var kinds []*Kind

// RegisterKind declares a kind. It panics on an option that has no row in
// ruleOptions or an order taken already: a mistake of the kind's file.
func RegisterKind(name string, order int, options ...string) *Kind {
	for _, opt := range options {
		if !slices.ContainsFunc(ruleOptions, func(ro ruleOption) bool { return ro.name == opt }) {
			panic(fmt.Sprintf("signers: kind %s serves an unknown option %q", name, opt))
		}
	}
	k := &Kind{Name: name, order: order, options: options}
	i, found := slices.BinarySearchFunc(kinds, order, func(k *Kind, order int) int { return k.order - order })
	if found {
		panic(fmt.Sprintf("signers: kinds %s and %s share order %d", kinds[i].Name, name, order))
	}
	kinds = slices.Insert(kinds, i, k)
	return k
}

// KindNamed is the registered kind of that name, or nil.
func KindNamed(name string) *Kind {
	for _, k := range kinds {
		if k.Name == name {
			return k
		}
	}
	return nil
}

// Options are the JSON names of the rule options the kind serves, as it
// declared them.
func (k *Kind) Options() []string { return slices.Clone(k.options) }

// ModuleID is the kind's Caddy module ID.
func (k *Kind) ModuleID() string { return Namespace + "." + k.Name }

// serves tells whether the kind serves the rule option of JSON name opt.
func (k *Kind) serves(opt string) bool { return slices.Contains(k.options, opt) }

// servers are the names of the kinds that serve the rule option opt, in
// their order.
func servers(opt string) []string {
	var names []string
	for _, k := range kinds {
		if k.serves(opt) {
			names = append(names, k.Name)
		}
	}
	return names
}
