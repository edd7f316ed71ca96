package presign

import (
	"strings"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"
)

// pathPlaceholder is the placeholder of the request path in key templates.
const pathPlaceholder = "{presign.path}"

// keyTemplate is a rule's key template, prepared once. The common templates
// "prefix/{presign.path}/suffix" with no other placeholder are expanded by
// concatenation; the rest through Caddy's replacer.
type keyTemplate struct {
	raw    string
	simple bool   // only literal text around at most one {presign.path}
	before string // literal text before {presign.path} (simple only)
	after  string // literal text after it (simple only)
	path   bool   // the template holds {presign.path} (simple only)
}

func parseKeyTemplate(t string) keyTemplate {
	k := keyTemplate{raw: t}
	before, after, found := strings.Cut(t, pathPlaceholder)
	if !strings.ContainsAny(before, "{}") && !strings.ContainsAny(after, "{}") {
		k.simple, k.before, k.after, k.path = true, before, after, found
	}
	return k
}

// expand returns the key for the request path p ({presign.path}).
func (k *keyTemplate) expand(repl *caddy.Replacer, p string) string {
	if k.simple {
		if !k.path {
			return k.before
		}
		return k.before + p + k.after
	}
	repl.Set("presign.path", p)
	return repl.ReplaceAll(k.raw, "")
}

// presignPath is {presign.path}: the request path, percent-decoded but not
// cleaned, with the rule's strip_prefix (compared case-insensitively, as the
// path matcher does) and then the leading "/" removed.
func (r *Rule) presignPath(path string) string {
	if n := len(r.stripLower); n > 0 && len(path) >= n && strings.EqualFold(path[:n], r.stripLower) {
		path = path[n:]
	}
	if len(path) > 0 && path[0] == '/' {
		path = path[1:]
	}
	return path
}

// keyPrefix is text that every key of the rule starts with, as far as its
// key template and path patterns show it, known up to letter case (the
// path matcher ignores case, and {presign.path} keeps the request's): the
// template's literal start, or, when the template starts with
// {presign.path}, the literal start that every path pattern has after
// strip_prefix and the leading "/".
func (r *Rule) keyPrefix() string {
	if !strings.HasPrefix(r.Key, pathPlaceholder) {
		return literalPrefix(r.Key, `{\`)
	}
	var prefix string
	for i, p := range r.Path {
		// what the matched path surely starts with: the pattern up to its
		// first wildcard, placeholder or escape
		lit := literalPrefix(strings.ToLower(p), `*?[\{%`)
		switch {
		case strings.HasPrefix(lit, r.stripLower):
			lit = lit[len(r.stripLower):]
		case strings.HasPrefix(r.stripLower, lit):
			lit = "" // whether the path had the whole prefix is not known
		}
		lit = strings.TrimPrefix(lit, "/")
		if i == 0 {
			prefix = lit
			continue
		}
		n := 0
		for n < len(lit) && n < len(prefix) && lit[n] == prefix[n] {
			n++
		}
		prefix = prefix[:n]
	}
	return prefix
}

// literalPrefix is s up to its first byte that is in stops or not ASCII
// (lower-casing changes the bytes of other letters).
func literalPrefix(s, stops string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf || strings.IndexByte(stops, s[i]) >= 0 {
			return s[:i]
		}
	}
	return s
}

// maxKeyLen is S3's limit on an object key, in bytes.
const maxKeyLen = 1024

// checkKey returns why key cannot be signed, or "" when it can: it must be
// valid UTF-8, 1 to 1024 bytes, free of control characters and backslashes,
// without a leading "/" and without an empty, "." or ".." segment. Keys are
// never cleaned: "a//b" and "a/./b" are refused rather than silently mapped
// to another object.
func checkKey(key string) string {
	if key == "" {
		return "empty key"
	}
	if len(key) > maxKeyLen {
		return "key longer than 1024 bytes"
	}
	if !utf8.ValidString(key) {
		return "key is not valid UTF-8"
	}
	start := 0
	for i := 0; i <= len(key); i++ {
		if i < len(key) {
			c := key[i]
			if c < 0x20 || c == 0x7f {
				return "control character in key"
			}
			if c == '\\' {
				return "backslash in key"
			}
			if c == 0xc2 && i+1 < len(key) && key[i+1] < 0xa0 {
				return "control character in key" // C1 controls U+0080 to U+009F
			}
			if c != '/' {
				continue
			}
		}
		switch key[start:i] {
		case "":
			if start == 0 {
				return "key starts with /"
			}
			return "empty segment in key"
		case ".", "..":
			return "dot segment in key"
		}
		start = i + 1
	}
	return ""
}
