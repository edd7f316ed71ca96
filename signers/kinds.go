package signers

import (
	"fmt"
	"slices"
)

// kind is what a profile kind declares of itself, in its own file, with
// registerKind: its name, the rule options it serves, and where it comes
// in lists of kinds.
type kind struct {
	// name is the kind's module name (Namespace + "." + name), its
	// Caddyfile keyword and its name in errors.
	name string
	// order places the kind in the lists of kinds that errors show: the
	// order in which kinds joined the module; a new kind takes the next.
	order int
	// options are the JSON names of the rule options (rows of
	// ruleOptions) the kind serves; it refuses the others in CheckRule.
	options []string
}

// kinds are the registered kinds, in their order.
var kinds []*kind

// registerKind declares a kind. It panics on an option that has no row in
// ruleOptions or an order taken already: a mistake of the kind's file.
func registerKind(name string, order int, options ...string) *kind {
	for _, opt := range options {
		if !slices.ContainsFunc(ruleOptions, func(ro ruleOption) bool { return ro.name == opt }) {
			panic(fmt.Sprintf("signers: kind %s serves an unknown option %q", name, opt))
		}
	}
	k := &kind{name: name, order: order, options: options}
	i, found := slices.BinarySearchFunc(kinds, order, func(k *kind, order int) int { return k.order - order })
	if found {
		panic(fmt.Sprintf("signers: kinds %s and %s share order %d", kinds[i].name, name, order))
	}
	kinds = slices.Insert(kinds, i, k)
	return k
}

// moduleID is the kind's Caddy module ID.
func (k *kind) moduleID() string { return Namespace + "." + k.name }

// serves tells whether the kind serves the rule option of JSON name opt.
func (k *kind) serves(opt string) bool { return slices.Contains(k.options, opt) }

// servers are the names of the kinds that serve the rule option opt, in
// their order.
func servers(opt string) []string {
	var names []string
	for _, k := range kinds {
		if k.serves(opt) {
			names = append(names, k.name)
		}
	}
	return names
}
