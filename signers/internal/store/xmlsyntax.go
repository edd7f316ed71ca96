package store

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// The pieces of XML's syntax that XMLDoc reads as encoding/xml reads them:
// names, character data, entities and character references.

// validName tells whether XML allows n as a name, as encoding/xml holds
// names to XML 1.0's tables. A name beyond ASCII, which no store writes,
// is put to encoding/xml itself, whose tables are its own.
func validName(n []byte) bool {
	if len(n) == 0 {
		return false
	}
	beyondASCII := false
	for i, c := range n {
		switch {
		case c >= utf8.RuneSelf:
			beyondASCII = true
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == ':':
		case i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	if !beyondASCII {
		return true
	}
	// A processing instruction whose target is n: encoding/xml reads the
	// target as a name and refuses it if its tables do.
	_, err := xml.NewDecoder(bytes.NewReader(slices.Concat([]byte("<?"), n, []byte("?>")))).RawToken()
	return err == nil
}

// validNSName tells whether encoding/xml reads n as the name of an
// element or attribute: a valid name with at most one colon.
func validNSName(n []byte) bool { return validName(n) && bytes.Count(n, []byte(":")) <= 1 }

// nameLen is the length of the name at the head of b, as encoding/xml
// reads one: up to the first byte in ASCII that no name holds.
func nameLen(b []byte) int {
	for i, c := range b {
		if c < utf8.RuneSelf && !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == ':' || c == '.' || c == '-') {
			return i
		}
	}
	return len(b)
}

// local is name without its namespace prefix, as encoding/xml splits a
// name: at its one colon, when neither side is empty.
func local(name []byte) []byte {
	if i := bytes.IndexByte(name, ':'); i > 0 && i < len(name)-1 {
		return name[i+1:]
	}
	return name
}

// appendLines appends a CDATA section's bytes to dst with its line ends
// read as "\n".
func appendLines(dst, raw []byte) []byte {
	for {
		i := bytes.IndexByte(raw, '\r')
		if i < 0 {
			return append(dst, raw...)
		}
		dst = append(append(dst, raw[:i]...), '\n')
		raw = raw[i+1:]
		if len(raw) > 0 && raw[0] == '\n' {
			raw = raw[1:]
		}
	}
}

// appendDecoded appends raw character data to dst with its entities and
// character references decoded and its line ends read as "\n".
func (d *XMLDoc) appendDecoded(dst, raw []byte) []byte {
	for len(raw) > 0 {
		c := raw[0]
		switch c {
		case '\r':
			dst = append(dst, '\n')
			raw = raw[1:]
			if len(raw) > 0 && raw[0] == '\n' {
				raw = raw[1:]
			}
			continue
		case '&':
		default:
			dst = append(dst, c)
			raw = raw[1:]
			continue
		}
		semi := bytes.IndexByte(raw, ';')
		if semi < 0 {
			d.fail("an '&' that starts no entity")
			return dst
		}
		ent := raw[1:semi]
		raw = raw[semi+1:]
		switch string(ent) {
		case "amp":
			dst = append(dst, '&')
		case "lt":
			dst = append(dst, '<')
		case "gt":
			dst = append(dst, '>')
		case "quot":
			dst = append(dst, '"')
		case "apos":
			dst = append(dst, '\'')
		default:
			r, err := charRef(ent)
			if err != nil {
				d.fail("%v", err)
				return dst
			}
			dst = utf8.AppendRune(dst, r)
		}
	}
	return dst
}

// charRef reads a character reference's body, #65 or #x41, as
// encoding/xml does: a surrogate reads as U+FFFD.
func charRef(ent []byte) (rune, error) {
	if len(ent) < 2 || ent[0] != '#' {
		return 0, fmt.Errorf("unknown entity &%s;", ent)
	}
	s, base := string(ent[1:]), 10
	if s[0] == 'x' {
		s, base = s[1:], 16
	}
	n, err := strconv.ParseUint(s, base, 64)
	if err != nil || n > unicode.MaxRune {
		return 0, errors.New("invalid character reference")
	}
	r := rune(n)
	if utf16.IsSurrogate(r) {
		r = utf8.RuneError
	}
	if !isXMLChar(r) {
		return 0, errors.New("invalid character reference")
	}
	return r, nil
}

// validText tells whether b is UTF-8 of characters XML allows, and
// whether it holds "]]>", which only a CDATA section's end may.
func validText(b []byte) (valid, cdataEnd bool) {
	for i := 0; i < len(b); {
		if c := b[i]; c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return false, cdataEnd
			}
			if c == '>' && i >= 2 && b[i-1] == ']' && b[i-2] == ']' {
				cdataEnd = true
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 || !isXMLChar(r) {
			return false, cdataEnd
		}
		i += n
	}
	return true, cdataEnd
}

// isXMLChar tells whether XML allows r in a document.
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D || r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}
