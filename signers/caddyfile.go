package signers

import (
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/dustin/go-humanize"
)

// The Caddyfile helpers of the profile kinds and the rule parser. Each
// reads the arguments of the subdirective the dispenser stands on, up to
// the end of its line, and names the subdirective in its errors.

// OneArg reads the single argument of the current subdirective into dst.
func OneArg(d *caddyfile.Dispenser, dst *string) error {
	opt := d.Val()
	args := d.RemainingArgs()
	if len(args) != 1 {
		return d.Errf("%s takes one argument, got %d", opt, len(args))
	}
	*dst = args[0]
	return nil
}

// SecretArg is OneArg for a secret: its errors never quote a token, which
// may be part of a secret with a space that was not quoted.
func SecretArg(d *caddyfile.Dispenser, dst *string) error {
	opt := d.Val()
	if !d.NextArg() {
		return d.Errf("%s needs a value", opt)
	}
	*dst = d.Val()
	if d.NextArg() {
		return d.Errf("%s takes one argument (not shown: it may be a secret); quote a value with spaces, or use {env.X} or {file.P}", opt)
	}
	return nil
}

// FlagArg sets dst for a subdirective that takes no argument.
func FlagArg(d *caddyfile.Dispenser, dst *bool) error {
	opt := d.Val()
	if args := d.RemainingArgs(); len(args) != 0 {
		return d.Errf("%s takes no argument, got %d", opt, len(args))
	}
	*dst = true
	return nil
}

// flagOptArg reads a flag subdirective with one optional argument
// (`cookies [<domain>]`, `browse [<template file>]`): it sets *flag, and
// *arg when the argument is given; what names the argument in the error.
func flagOptArg(d *caddyfile.Dispenser, flag *bool, arg *string, what string) error {
	opt := d.Val()
	args := d.RemainingArgs()
	if len(args) > 1 {
		return d.Errf("%s takes at most one argument, %s", opt, what)
	}
	*flag = true
	if len(args) == 1 {
		*arg = args[0]
	}
	return nil
}

// DurationArg reads the single duration argument of the current
// subdirective (Caddy's syntax: 90s, 15m, 1h, 7d), which must be positive.
func DurationArg(d *caddyfile.Dispenser, dst *caddy.Duration) error {
	opt := d.Val()
	var s string
	if err := OneArg(d, &s); err != nil {
		return err
	}
	v, err := caddy.ParseDuration(s)
	if err != nil {
		return d.Errf("%s %s: %v", opt, s, err)
	}
	if v <= 0 {
		return d.Errf("%s must be positive, got %s", opt, s)
	}
	*dst = caddy.Duration(v)
	return nil
}

// sizeArg reads the single size argument of the current subdirective: a
// number of bytes such as 100MB (1000-based) or 5GiB (1024-based).
func sizeArg(d *caddyfile.Dispenser, dst *int64) error {
	opt := d.Val()
	var s string
	if err := OneArg(d, &s); err != nil {
		return err
	}
	n, err := humanize.ParseBytes(s)
	if err != nil || n == 0 || n > 1<<62 {
		return d.Errf("%s %q: not a size such as 100MB or 5GiB", opt, s)
	}
	*dst = int64(n)
	return nil
}

// plainWord tells whether a token is a short lower-case word, the shape of
// every subdirective name, which is safe to quote in an error.
func plainWord(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; !('a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '_') {
			return false
		}
	}
	return true
}

// Subdirective is one subdirective of a profile's block: its name and what
// reads its arguments.
type Subdirective struct {
	Name  string
	Parse func() error
}

// ProfileBlock reads the block of a profile of kind with the given
// subdirectives; the dispenser stands on the kind of
//
//	profile <name> <kind> {
//		<subdirective> <args>...
//		...
//	}
//
// An unknown subdirective is refused with the known ones listed; one that
// is no plain word is not quoted, as it may be part of a secret that was
// not quoted (a PEM's line, a key with a space).
func ProfileBlock(d *caddyfile.Dispenser, kind string, subs []Subdirective) error {
	d.Next() // the kind
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		opt := d.Val()
		i := slices.IndexFunc(subs, func(s Subdirective) bool { return s.Name == opt })
		if i >= 0 {
			if err := subs[i].Parse(); err != nil {
				return err
			}
			continue
		}
		names := make([]string, len(subs))
		for j, s := range subs {
			names[j] = s.Name
		}
		if !plainWord(opt) {
			return d.Errf("unknown subdirective (not shown: it may be part of a secret; quote a value given inline, a PEM with backticks, or use {env.X} or {file.P}) in %s profile (%s)",
				kind, strings.Join(names, ", "))
		}
		return d.Errf("unknown subdirective %q in %s profile (%s)", opt, kind, strings.Join(names, ", "))
	}
	return nil
}

// notBeforeArg reads `not_before <RFC 3339 time>`.
func notBeforeArg(d *caddyfile.Dispenser, o *Options) error {
	var s string
	if err := OneArg(d, &s); err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return d.Errf("not_before %q: an RFC 3339 time such as 2026-12-06T09:00:00Z", s)
	}
	t = t.UTC()
	o.NotBefore = &t
	return nil
}
