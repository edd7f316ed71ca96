package signers

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// parseOptions reads a block of rule subdirectives into Options, as the
// rule parser hands them over, and returns the unknown ones.
func parseOptions(t *testing.T, block string) (Options, []string, error) {
	t.Helper()
	var o Options
	var unknown []string
	d := caddyfile.NewTestDispenser("rule /x/* {\n" + block + "\n}")
	d.Next()
	d.RemainingArgs()
	for d.NextBlock(0) {
		known, err := o.UnmarshalCaddyfileOption(d)
		if err != nil {
			return o, unknown, err
		}
		if !known {
			unknown = append(unknown, d.Val())
			d.RemainingArgs()
		}
	}
	return o, unknown, nil
}

// TestOptionsCaddyfile: every option is set by the subdirective of its JSON
// name (cookie_domain by the argument of cookies), the rule's own
// subdirectives are left to the rule, and wrong arguments are refused with
// the option named.
func TestOptionsCaddyfile(t *testing.T) {
	o, unknown, err := parseOptions(t, `
		profile p
		content_disposition inline
		content_type text/plain
		cache_control "private, max-age=60"
		max_size 5MiB
		content_type_prefix image/ image/svg+xml
		resource https://cdn.example.com/*
		bind_client_ip
		not_before 2026-12-06T09:00:00+01:00
		cookies example.com
		browse list.html
		check_exists 1m`)
	if err != nil {
		t.Fatal(err)
	}
	notBefore := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	want := Options{
		ContentDisposition: "inline", ContentType: "text/plain", CacheControl: "private, max-age=60",
		MaxSize: 5 << 20, ContentTypePrefix: TypePrefixes{"image/", "image/svg+xml"}, Resource: "https://cdn.example.com/*",
		BindClientIP: true, NotBefore: &notBefore, Cookies: true, CookieDomain: "example.com",
		Browse: true, BrowseTemplate: "list.html", CheckExists: caddy.Duration(time.Minute),
	}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("parsed %+v\nwant %+v", o, want)
	}
	if !slices.Equal(unknown, []string{"profile"}) {
		t.Errorf("left to the rule: %v, want [profile]", unknown)
	}

	// every field of Options has its row under its JSON name, for a
	// registered kind, and is set in the Caddyfile by the subdirective of
	// that name (cookie_domain by the argument of cookies, browse_template
	// by that of browse)
	typ := reflect.TypeFor[Options]()
	if len(ruleOptions) != typ.NumField() {
		t.Errorf("%d rows for %d fields", len(ruleOptions), typ.NumField())
	}
	names := OptionNames()
	for i := range typ.NumField() {
		tag, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		j := slices.IndexFunc(ruleOptions, func(ro ruleOption) bool { return ro.name == tag })
		if j < 0 {
			t.Errorf("field %s (%s) has no row", typ.Field(i).Name, tag)
			continue
		}
		kinds := servers(tag)
		if len(kinds) == 0 {
			t.Errorf("%s: no kind serves it", tag)
		}
		for _, kind := range kinds {
			if _, err := caddy.GetModule(Namespace + "." + kind); err != nil {
				t.Errorf("%s: kind %q: %v", tag, kind, err)
			}
		}
		if !slices.Contains(names, tag) && tag != "cookie_domain" && tag != "browse_template" {
			t.Errorf("field %s (%s) has no Caddyfile subdirective", typ.Field(i).Name, tag)
		}
	}

	for block, msg := range map[string]string{
		"content_type":          "content_type takes one argument, got 0",
		"resource a b":          "resource takes one argument, got 2",
		"bind_client_ip yes":    "bind_client_ip takes no argument, got 1",
		"max_size lots":         `max_size "lots": not a size`,
		"max_size 0":            `max_size "0": not a size`,
		"cookies a.com b.com":   "cookies takes at most one argument",
		"not_before tomorrow":   `not_before "tomorrow": an RFC 3339 time such as 2026-12-06T09:00:00Z`,
		"cache_control":         "cache_control takes one argument",
		"content_type_prefix":   "content_type_prefix takes one or more media type prefixes",
		"content_disposition":   "content_disposition takes one argument",
		"max_size 1PB 2":        "max_size takes one argument, got 2",
		"resource\ncookies x y": "resource takes one argument, got 0",
		"browse a b":            "browse takes at most one argument",
		"check_exists 0s":       "check_exists must be positive",
		"check_exists 1s 2s":    "check_exists takes one argument, got 2",
	} {
		if _, _, err := parseOptions(t, block); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: error %v, want %q", block, err, msg)
		}
	}
}

// TestTypePrefixesJSON: content_type_prefix reads a string or a list, and
// writes one value back as a string, so that existing configs keep their
// shape; anything else is refused.
func TestTypePrefixesJSON(t *testing.T) {
	for _, c := range []struct {
		in   string
		want TypePrefixes
		out  string
	}{
		{`{"content_type_prefix":"image/"}`, TypePrefixes{"image/"}, `{"content_type_prefix":"image/"}`},
		{`{"content_type_prefix":["image/"]}`, TypePrefixes{"image/"}, `{"content_type_prefix":"image/"}`},
		{`{"content_type_prefix":["image/","image/svg+xml"]}`, TypePrefixes{"image/", "image/svg+xml"}, `{"content_type_prefix":["image/","image/svg+xml"]}`},
		{`{}`, nil, `{}`},
		{`{"content_type_prefix":null}`, nil, `{}`},
	} {
		var o Options
		if err := json.Unmarshal([]byte(c.in), &o); err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if !reflect.DeepEqual(o.ContentTypePrefix, c.want) {
			t.Errorf("%s: read %q, want %q", c.in, o.ContentTypePrefix, c.want)
		}
		if out, err := json.Marshal(o); err != nil || string(out) != c.out {
			t.Errorf("%s: written back as %s (%v), want %s", c.in, out, err, c.out)
		}
	}
	for _, in := range []string{`{"content_type_prefix":3}`, `{"content_type_prefix":["image/",3]}`, `{"content_type_prefix":{"a":"b"}}`} {
		var o Options
		if err := json.Unmarshal([]byte(in), &o); err == nil || !strings.Contains(err.Error(), "content_type_prefix must be a string or a list of strings") {
			t.Errorf("%s: %v, want refused", in, err)
		}
	}
}
