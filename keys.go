package presign

import (
	"strings"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"
)

// The handler's own placeholders of key templates: the request path, and
// in uppy rules the client's file name and a fresh upload ID.
const (
	pathPlaceholder     = "{presign.path}"
	filenamePlaceholder = "{presign.filename}"
	uuidPlaceholder     = "{presign.uuid}"
)

// ownPlaceholders are the handler's own placeholders with their piece kinds.
var ownPlaceholders = [...]struct {
	name string
	own  byte
}{{pathPlaceholder, 'p'}, {filenamePlaceholder, 'f'}, {uuidPlaceholder, 'u'}}

// keyTemplate is a rule's key template, prepared once: the one template
// engine of the handler. The common templates "prefix/{presign.path}/suffix"
// with no other placeholder are expanded by concatenation; the rest through
// Caddy's replacer. Its pieces serve uppy rules, whose keys the client
// chooses within the template: fill makes a new key, allows checks one.
type keyTemplate struct {
	raw    string
	pieces keyPieces
	simple bool   // only literal text around at most one {presign.path}
	before string // literal text before {presign.path} (simple only)
	after  string // literal text after it (simple only)
	path   bool   // the template holds {presign.path} (simple only)
}

// keyPiece is a piece of a key template: text (Caddy's placeholders
// included, expanded per request) or one of the handler's own
// placeholders.
type keyPiece struct {
	text string // own == 0: the template text
	own  byte   // 'p': {presign.path}; 'f': {presign.filename}; 'u': {presign.uuid}
}

// keyPieces are a template's pieces, in order.
type keyPieces []keyPiece

func parseKeyTemplate(t string) keyTemplate {
	k := keyTemplate{raw: t}
	for rest := t; rest != ""; {
		i, own, n := len(rest), byte(0), 0
		for _, o := range ownPlaceholders {
			if j := strings.Index(rest, o.name); j >= 0 && j < i {
				i, own, n = j, o.own, len(o.name)
			}
		}
		if i > 0 {
			k.pieces = append(k.pieces, keyPiece{text: rest[:i]})
		}
		if own != 0 {
			k.pieces = append(k.pieces, keyPiece{own: own})
		}
		rest = rest[i+n:]
	}
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

// expand expands the request's own placeholders of the text pieces; the
// handler's stay.
func (ps keyPieces) expand(repl *caddy.Replacer) keyPieces {
	out := make(keyPieces, len(ps))
	for i, p := range ps {
		out[i] = p
		if p.own == 0 && strings.IndexByte(p.text, '{') >= 0 {
			out[i].text = repl.ReplaceAll(p.text, "")
		}
	}
	return out
}

// fill is the key of a new upload of the file name with the upload ID id.
func (ps keyPieces) fill(name, id string) string {
	var b strings.Builder
	for _, p := range ps {
		switch p.own {
		case 'f':
			b.WriteString(name)
		case 'u':
			b.WriteString(id)
		default:
			b.WriteString(p.text)
		}
	}
	return b.String()
}

// allows tells whether the expanded pieces could have produced key: the
// text pieces equal, each file name or upload ID a valid one, and a
// placeholder used twice the same value both times.
func (ps keyPieces) allows(key string) bool {
	return ps.match(key, "", "")
}

func (ps keyPieces) match(key, name, id string) bool {
	if len(ps) == 0 {
		return key == ""
	}
	p := ps[0]
	switch p.own {
	case 'u':
		if len(key) < 36 || !validUUID(key[:36]) || id != "" && key[:36] != id {
			return false
		}
		return ps[1:].match(key[36:], name, key[:36])
	case 'f':
		// a file name: no "/", so it ends before the next one at the latest
		end := strings.IndexByte(key, '/')
		if end < 0 {
			end = len(key)
		}
		for i := end; i > 0; i-- {
			v := key[:i]
			if (name == "" || v == name) && checkFilename(v) == "" && ps[1:].match(key[i:], v, id) {
				return true
			}
		}
		return false
	}
	return strings.HasPrefix(key, p.text) && ps[1:].match(key[len(p.text):], name, id)
}

// readsRequest tells whether template t holds a placeholder whose value
// may come from more of the request than its path: any but the handler's
// own ({presign.*}) and the operator's ({env.*}, {file.*}), e.g.
// {http.auth.user.id}. Escaped braces (\{, \}) are text, as in Caddy's
// replacer.
func readsRequest(t string) bool {
	for i := 0; i < len(t); i++ {
		switch t[i] {
		case '\\':
			i++ // the escaped character
		case '{':
			end := strings.IndexByte(t[i:], '}')
			if end < 0 {
				return false
			}
			name := t[i+1 : i+end]
			if !strings.HasPrefix(name, "presign.") && !strings.HasPrefix(name, "env.") && !strings.HasPrefix(name, "file.") {
				return true
			}
			i += end
		}
	}
	return false
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

// checkFilename returns why name cannot be {presign.filename}, or "" when
// it can: one key segment, valid UTF-8, not empty, ".", or "..", without
// "/", "\" or control characters.
func checkFilename(name string) string {
	if strings.IndexByte(name, '/') >= 0 {
		return "slash in file name"
	}
	if why := checkKey(name); why != "" {
		return strings.Replace(strings.Replace(why, "key", "file name", 1), "dot segment in", ". or .. as", 1)
	}
	return ""
}

// validUUID tells whether s is shaped as newUUID makes them: lower-case hex
// in groups of 8, 4, 4, 4 and 12, joined by "-".
func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// printableASCII tells whether s is printable ASCII.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
