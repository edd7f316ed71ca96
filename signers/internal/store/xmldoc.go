package store

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"unicode/utf8"
)

// XMLDoc reads the XML document of a listing page in one pass over its
// bytes, without reflection: the pages are a tree of a few element names,
// and decoding them through encoding/xml cost more CPU than the rest of
// the listing's answer. It reads what encoding/xml's Unmarshal reads into
// a struct: elements matched by local name (the namespace is ignored),
// attributes, character data with the XML entities, character references
// and CDATA sections, "\r\n" read as "\n"; comments, processing
// instructions and directives are skipped; a document that is not
// well-formed (an end tag that does not match, an unknown entity, text
// that is not UTF-8 of characters XML allows, an end before the root
// closes) is an error. What
// follows the root element is not read.
//
// A reader walks it from Root with Children, Text and Attr; the first
// error stops the walk and is kept for Err.
type XMLDoc struct {
	b     []byte
	i     int
	open  [][]byte // names of the open elements, innermost last
	attrs []byte   // the attributes of the last start tag
	empty bool     // the last start tag closed itself (<a/>)
	text  []byte   // TextBytes's buffer, when it must decode
	err   error
}

// NewXMLDoc returns a reader of the document b.
func NewXMLDoc(b []byte) *XMLDoc { return &XMLDoc{b: b, open: make([][]byte, 0, 8)} }

// Err is the first error of the walk, or nil.
func (d *XMLDoc) Err() error { return d.err }

// token kinds
const (
	tokEOF = iota
	tokText
	tokCDATA
	tokStart
	tokEnd
)

func (d *XMLDoc) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("XML syntax error at byte %d: %s", d.i, fmt.Sprintf(format, args...))
	}
}

// Root enters the root element, past the prolog, and returns its local
// name; "" on an error.
func (d *XMLDoc) Root() []byte {
	for d.err == nil {
		switch k, seg := d.tok(); k {
		case tokStart:
			return local(seg)
		case tokText:
			if len(bytes.TrimLeft(seg, " \t\r\n")) != 0 {
				d.fail("text before the root element")
			}
		case tokEOF:
			d.fail("no root element")
		default:
			d.fail("text before the root element")
		}
	}
	return nil
}

// Children yields the local name of each child element of the element
// last entered, entering it: the loop's body reads it with Text, Attr or
// Children, or leaves it, and the walk goes on after its end. The walk
// ends past the element's own end tag, or at an error.
func (d *XMLDoc) Children() iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		depth := len(d.open)
		for d.err == nil {
			switch k, seg := d.tok(); k {
			case tokStart:
				if !yield(local(seg)) {
					return
				}
				d.skipTo(depth)
			case tokEnd:
				return // the element's own: its children's are skipped
			case tokEOF:
				d.fail("unexpected end of the document")
			}
		}
	}
}

// Skip reads the rest of the root element.
func (d *XMLDoc) Skip() { d.skipTo(0) }

// skipTo reads until depth elements are open.
func (d *XMLDoc) skipTo(depth int) {
	for d.err == nil && len(d.open) > depth {
		if k, _ := d.tok(); k == tokEOF {
			d.fail("unexpected end of the document")
		}
	}
}

// TextBytes reads the element last entered to its end and returns its
// character data, decoded; the text of elements inside it is not its
// own. The bytes are valid until the next call.
func (d *XMLDoc) TextBytes() []byte {
	depth := len(d.open)
	var out []byte
	read, copied := false, false // a segment read; out is d.text
	for d.err == nil {
		k, seg := d.tok()
		switch k {
		case tokText, tokCDATA:
			plain := k == tokCDATA || bytes.IndexByte(seg, '&') < 0 && bytes.IndexByte(seg, '\r') < 0
			if !read && plain {
				out = seg // one plain segment, the common case: no copy
			} else {
				if !copied {
					d.text = append(d.text[:0], out...)
					copied = true
				}
				if k == tokCDATA {
					d.text = append(d.text, seg...)
				} else {
					d.text = d.appendDecoded(d.text, seg)
				}
				out = d.text
			}
			read = true
		case tokStart:
			d.skipTo(depth)
		case tokEnd:
			if !validText(out) {
				d.fail("text that is not UTF-8 of characters XML allows")
				return nil
			}
			return out
		case tokEOF:
			d.fail("unexpected end of the document")
		}
	}
	return nil
}

// Text is TextBytes as a string.
func (d *XMLDoc) Text() string { return string(d.TextBytes()) }

// Attr returns the value of the attribute of the element last entered
// whose local name is name, before any read of its content.
func (d *XMLDoc) Attr(name string) (string, bool) {
	a := d.attrs
	for {
		a = bytes.TrimLeft(a, " \t\r\n")
		eq := bytes.IndexByte(a, '=')
		if eq < 0 {
			return "", false
		}
		n := bytes.TrimRight(a[:eq], " \t\r\n")
		a = bytes.TrimLeft(a[eq+1:], " \t\r\n")
		if len(a) == 0 || a[0] != '"' && a[0] != '\'' {
			d.fail("attribute %q without a quoted value", n)
			return "", false
		}
		end := bytes.IndexByte(a[1:], a[0])
		if end < 0 {
			d.fail("attribute %q not closed", n)
			return "", false
		}
		v := a[1 : 1+end]
		a = a[2+end:]
		if string(local(n)) == name {
			if bytes.IndexByte(v, '&') >= 0 || bytes.IndexByte(v, '\r') >= 0 {
				v = d.appendDecoded(nil, v)
			}
			if !validText(v) {
				d.fail("attribute %q is not UTF-8 of characters XML allows", n)
				return "", false
			}
			return string(v), true
		}
	}
}

// tok reads the next token: character data, a CDATA section, a start tag
// (entered: its name is pushed, its attributes kept) or an end tag (its
// element's name popped). Comments, processing instructions and
// directives are skipped.
func (d *XMLDoc) tok() (int, []byte) {
	if d.empty {
		d.empty = false
		name := d.open[len(d.open)-1]
		d.open = d.open[:len(d.open)-1]
		return tokEnd, name
	}
	for d.err == nil {
		b, i := d.b, d.i
		if i >= len(b) {
			return tokEOF, nil
		}
		if b[i] != '<' {
			end := bytes.IndexByte(b[i:], '<')
			if end < 0 {
				end = len(b) - i
			}
			d.i = i + end
			return tokText, b[i : i+end]
		}
		rest := b[i:]
		switch {
		case bytes.HasPrefix(rest, []byte("<!--")):
			d.skipPast("-->", 4)
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			end := bytes.Index(rest[9:], []byte("]]>"))
			if end < 0 {
				d.fail("CDATA section not closed")
				break
			}
			d.i = i + 9 + end + 3
			return tokCDATA, rest[9 : 9+end]
		case bytes.HasPrefix(rest, []byte("<?")):
			d.skipPast("?>", 2)
		case bytes.HasPrefix(rest, []byte("<!")):
			d.skipPast(">", 2)
		case bytes.HasPrefix(rest, []byte("</")):
			end := bytes.IndexByte(rest, '>')
			if end < 0 {
				d.fail("end tag not closed")
				break
			}
			name := bytes.TrimRight(rest[2:end], " \t\r\n")
			if len(d.open) == 0 || !bytes.Equal(name, d.open[len(d.open)-1]) {
				d.fail("unexpected end tag </%s>", name)
				break
			}
			d.open = d.open[:len(d.open)-1]
			d.i = i + end + 1
			return tokEnd, name
		default:
			return d.startTag(rest)
		}
	}
	return tokEOF, nil
}

// startTag reads the start tag at the head of rest.
func (d *XMLDoc) startTag(rest []byte) (int, []byte) {
	n := 1
	for n < len(rest) && !isSpaceOrTagEnd(rest[n]) {
		n++
	}
	name := rest[1:n]
	if len(name) == 0 {
		d.fail("a '<' that starts no tag")
		return tokEOF, nil
	}
	var quote byte
	for end := n; end < len(rest); end++ {
		c := rest[end]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			d.attrs = rest[n:end]
			d.empty = rest[end-1] == '/'
			if d.empty {
				d.attrs = rest[n : end-1]
			}
			d.open = append(d.open, name)
			d.i += end + 1
			return tokStart, name
		}
	}
	d.fail("start tag <%s not closed", name)
	return tokEOF, nil
}

func isSpaceOrTagEnd(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '/' || c == '>'
}

// skipPast moves past the next end, looked for from skip bytes on.
func (d *XMLDoc) skipPast(end string, skip int) {
	rest := d.b[d.i+skip:]
	n := bytes.Index(rest, []byte(end))
	if n < 0 {
		d.fail("%q not found", end)
		return
	}
	d.i += skip + n + len(end)
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

// charRef reads a character reference's body: #65 or #x41.
func charRef(ent []byte) (rune, error) {
	if len(ent) < 2 || ent[0] != '#' {
		return 0, fmt.Errorf("unknown entity &%s;", ent)
	}
	s, base := string(ent[1:]), 10
	if s[0] == 'x' {
		s, base = s[1:], 16
	}
	n, err := strconv.ParseUint(s, base, 32)
	if err != nil || !isXMLChar(rune(n)) {
		return 0, errors.New("invalid character reference")
	}
	return rune(n), nil
}

// validText tells whether b is UTF-8 of characters XML allows.
func validText(b []byte) bool {
	for i := 0; i < len(b); {
		if c := b[i]; c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 || !isXMLChar(r) {
			return false
		}
		i += n
	}
	return true
}

// isXMLChar tells whether XML allows r in a document.
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D || r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// local is name without its namespace prefix.
func local(name []byte) []byte {
	if i := bytes.IndexByte(name, ':'); i >= 0 {
		return name[i+1:]
	}
	return name
}
