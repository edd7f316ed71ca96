package signers

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// TypePrefixes are the values of content_type_prefix: an upload's media
// type must start with one of them (compared case-insensitively), and a
// type that a browser may run as a page must equal one of them (see the
// handler's checkContentType). In the JSON config a single value is a
// string ("image/"), several a list (["image/", "image/svg+xml"]); either
// form is read, and one value is written back as a string. In the
// Caddyfile: `content_type_prefix <prefix>...`.
type TypePrefixes []string

// UnmarshalJSON reads a string or a list of strings (null: none).
func (p *TypePrefixes) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*p = nil
		return nil
	}
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*p = TypePrefixes{one}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return errors.New("content_type_prefix must be a string or a list of strings")
	}
	*p = list
	return nil
}

// MarshalJSON writes one value as a string, several as a list.
func (p TypePrefixes) MarshalJSON() ([]byte, error) {
	if len(p) == 1 {
		return json.Marshal(p[0])
	}
	return json.Marshal([]string(p))
}

// typePrefixesArg reads the one or more arguments of content_type_prefix.
func typePrefixesArg(d *caddyfile.Dispenser, dst *TypePrefixes) error {
	opt := d.Val()
	args := d.RemainingArgs()
	if len(args) == 0 {
		return d.Errf("%s takes one or more media type prefixes, e.g. image/", opt)
	}
	*dst = args
	return nil
}

// check tells why a value is not a media type prefix: each must be a type
// and "/" ("image/"), possibly followed by the start of a subtype
// ("image/svg+xml", "video/x-"); nil when all are.
func (p TypePrefixes) check() error {
	for _, v := range p {
		typ, sub, ok := strings.Cut(v, "/")
		if !ok || typ == "" || !isToken(typ) || (sub != "" && !isToken(sub)) {
			return fmt.Errorf("content_type_prefix %q is not a media type prefix: want a type and \"/\", e.g. image/ or image/png", v)
		}
	}
	return nil
}

// isToken tells whether s is made of RFC 2045 token characters alone:
// printable ASCII without space and without ()<>@,;:\"/[]?=.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 {
			return false
		}
	}
	return true
}
