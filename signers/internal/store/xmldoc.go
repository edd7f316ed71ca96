package store

import (
	"bytes"
	"fmt"
	"iter"
	"strings"
)

// XMLDoc reads the XML document of a listing page in one pass over its
// bytes, without reflection: the pages are a tree of a few element names,
// and decoding them through encoding/xml cost more CPU than the rest of
// the listing's answer. It reads what encoding/xml's Unmarshal reads into
// a struct: elements matched by local name (the namespace is ignored),
// attributes, character data with the XML entities, character references
// and CDATA sections, "\r\n" read as "\n"; comments, processing
// instructions and directives are skipped; a document that encoding/xml
// refuses (an end tag that does not match, an unknown entity, text that
// is not UTF-8 of characters XML allows, a name or attribute XML does not
// allow, an end before the root closes) is an error. What follows the
// root element is not read. The fuzz tests of the listings hold it to
// encoding/xml.
//
// A reader walks it from Root with Children, Text and Attrs; the first
// error stops the walk and is kept for Err.
type XMLDoc struct {
	b       []byte
	i       int
	open    [][]byte // names of the open elements, innermost last
	attrs   []byte   // the attributes of the last start tag
	empty   bool     // the last start tag closed itself (<a/>)
	text    []byte   // TextBytes's buffer, when it must decode
	scratch []byte   // checkText's
	err     error
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

// Root enters the root element, past the prolog and any text before it,
// and returns its local name; "" on an error.
func (d *XMLDoc) Root() []byte {
	for d.err == nil {
		switch k, seg := d.tok(); k {
		case tokStart:
			return local(seg)
		case tokText, tokCDATA:
			// skipped, as encoding/xml skips it
		case tokEOF:
			d.fail("no root element")
		}
	}
	return nil
}

// Children yields the local name of each child element of the element
// last entered, entering it: the loop's body reads it with Text, Attrs or
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
			plain := bytes.IndexByte(seg, '\r') < 0 && (k == tokCDATA || bytes.IndexByte(seg, '&') < 0)
			if !read && plain {
				out = seg // one plain segment, the common case: no copy
			} else {
				if !copied {
					d.text = append(d.text[:0], out...)
					copied = true
				}
				if k == tokCDATA {
					d.text = appendLines(d.text, seg)
				} else {
					d.text = d.appendDecoded(d.text, seg)
				}
				out = d.text
			}
			read = true
		case tokStart:
			d.skipTo(depth)
		case tokEnd:
			return out
		case tokEOF:
			d.fail("unexpected end of the document")
		}
	}
	return nil
}

// Text is TextBytes as a string.
func (d *XMLDoc) Text() string { return string(d.TextBytes()) }

// Attrs yields, in order, the value of each attribute of the element last
// entered whose local name is name, before any read of its content. A
// reader sets its field from each in turn, as Unmarshal does: the last
// one stands, and each must read.
func (d *XMLDoc) Attrs(name string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for a := d.attrs; ; {
			n, v, rest, ok := nextAttr(a)
			if !ok {
				return
			}
			a = rest
			if string(local(n)) != name {
				continue
			}
			if bytes.IndexByte(v, '&') >= 0 || bytes.IndexByte(v, '\r') >= 0 {
				v = d.appendDecoded(nil, v)
			}
			if !yield(string(v)) {
				return
			}
		}
	}
}

// nextAttr splits the first attribute off a, the attributes of a start
// tag checked by checkAttrs; ok is false when there is none.
func nextAttr(a []byte) (name, value, rest []byte, ok bool) {
	a = bytes.TrimLeft(a, " \t\r\n")
	eq := bytes.IndexByte(a, '=')
	if eq < 0 {
		return nil, nil, nil, false
	}
	name = bytes.TrimRight(a[:eq], " \t\r\n")
	a = bytes.TrimLeft(a[eq+1:], " \t\r\n")
	if len(a) == 0 || a[0] != '"' && a[0] != '\'' {
		return nil, nil, nil, false
	}
	end := bytes.IndexByte(a[1:], a[0])
	if end < 0 {
		return nil, nil, nil, false
	}
	return name, a[1 : 1+end], a[2+end:], true
}

// checkAttrs fails d unless a, the attributes of a start tag, are
// name="value" pairs with valid names and values as encoding/xml reads
// them.
func (d *XMLDoc) checkAttrs(a []byte) {
	for len(bytes.TrimLeft(a, " \t\r\n")) > 0 {
		n, v, rest, ok := nextAttr(a)
		if !ok || !validNSName(n) || bytes.IndexByte(v, '<') >= 0 {
			d.fail("malformed attributes")
			return
		}
		if bytes.IndexByte(v, '&') >= 0 || bytes.IndexByte(v, '\r') >= 0 {
			v = d.appendDecoded(nil, v)
		}
		if valid, _ := validText(v); d.err == nil && !valid {
			d.fail("attribute %q is not UTF-8 of characters XML allows", n)
		}
		a = rest
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

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
			seg := b[i : i+end]
			d.checkText(seg, true)
			return tokText, seg
		}
		rest := b[i:]
		switch {
		case bytes.HasPrefix(rest, []byte("<!-")):
			if n := comment(rest); n < 0 {
				d.fail("malformed comment")
			} else {
				d.i += n
			}
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			end := bytes.Index(rest[9:], []byte("]]>"))
			if end < 0 {
				d.fail("CDATA section not closed")
				break
			}
			d.i = i + 9 + end + 3
			d.checkText(rest[9:9+end], false)
			return tokCDATA, rest[9 : 9+end]
		case bytes.HasPrefix(rest, []byte("<?")):
			d.procInst(rest)
		case bytes.HasPrefix(rest, []byte("<![")):
			d.fail("a '<![' that starts no CDATA section")
		case bytes.HasPrefix(rest, []byte("<!")):
			if n := directive(rest); n < 0 {
				d.fail("malformed directive")
			} else {
				d.i += n
			}
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
	if !validNSName(name) {
		d.fail("invalid name %q", name)
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
			if len(d.attrs) > 0 {
				d.checkAttrs(d.attrs)
			}
			d.open = append(d.open, name)
			d.i += end + 1
			return tokStart, name
		}
	}
	d.fail("start tag <%s not closed", name)
	return tokEOF, nil
}

func isSpaceOrTagEnd(c byte) bool { return isSpace(c) || c == '/' || c == '>' }

// checkText fails d unless seg is character data that encoding/xml reads:
// UTF-8 of characters XML allows, and, unless it is a CDATA section's,
// known entities and no "]]>".
func (d *XMLDoc) checkText(seg []byte, entities bool) {
	valid, cdataEnd := validText(seg)
	switch {
	case !valid:
		d.fail("text that is not UTF-8 of characters XML allows")
	case !entities:
	case cdataEnd:
		d.fail(`"]]>" outside a CDATA section`)
	case bytes.IndexByte(seg, '&') >= 0:
		d.scratch = d.appendDecoded(d.scratch[:0], seg)
	}
}

// procInst reads the processing instruction at the head of rest: a
// target name, and for the XML declaration version 1.0 and UTF-8, the
// only encoding read.
func (d *XMLDoc) procInst(rest []byte) {
	body := rest[2:]
	n := nameLen(body)
	if !validName(body[:n]) {
		d.fail("processing instruction without a target name")
		return
	}
	end := bytes.Index(body[n:], []byte("?>"))
	if end < 0 {
		d.fail("processing instruction not closed")
		return
	}
	end += 2 + n
	body = rest[2:end]
	if string(body[:n]) == "xml" {
		content := string(body[n:])
		if v := procInstParam("version", content); v != "" && v != "1.0" {
			d.fail("unsupported XML version %q", v)
			return
		}
		if e := procInstParam("encoding", content); e != "" && !strings.EqualFold(e, "utf-8") {
			d.fail("encoding %q is not UTF-8", e)
			return
		}
	}
	d.i += end + 2
}

// procInstParam is encoding/xml's reading of a parameter of the XML
// declaration.
func procInstParam(param, s string) string {
	param = param + "="
	lenp := len(param)
	i := 0
	var sep byte
	for i < len(s) {
		sub := s[i:]
		k := strings.Index(sub, param)
		if k < 0 || lenp+k >= len(sub) {
			return ""
		}
		i += lenp + k + 1
		if c := sub[lenp+k]; c == '\'' || c == '"' {
			sep = c
			break
		}
	}
	if sep == 0 {
		return ""
	}
	j := strings.IndexByte(s[i:], sep)
	if j < 0 {
		return ""
	}
	return s[i : i+j]
}

// comment returns the length of the comment at the head of rest, or -1
// when it is malformed: "--" inside, or not closed.
func comment(rest []byte) int {
	if !bytes.HasPrefix(rest, []byte("<!--")) {
		return -1
	}
	n := bytes.Index(rest[4:], []byte("--"))
	if n < 0 || 4+n+2 >= len(rest) || rest[4+n+2] != '>' {
		return -1
	}
	return 4 + n + 3
}

// directive returns the length of the directive (<!DOCTYPE ...>) at the
// head of rest, as encoding/xml reads one: to the '>' that closes it, past
// quotes, nested <...> and comments; -1 if none does.
func directive(rest []byte) int {
	var quote byte
	depth := 0
	for i := 3; i < len(rest); i++ { // the byte after "<!" is the directive's
		c := rest[i]
		switch {
		case quote == 0 && c == '>' && depth == 0:
			return i + 1
		case c == quote:
			quote = 0
		case quote != 0:
		case c == '\'' || c == '"':
			quote = c
		case c == '>':
			depth--
		case c == '<':
			if !bytes.HasPrefix(rest[i:], []byte("<!--")) {
				depth++
				continue
			}
			// A comment inside a directive ends at its first "-->";
			// encoding/xml does not hold it to the rule on "--".
			n := bytes.Index(rest[i+4:], []byte("-->"))
			if n < 0 {
				return -1
			}
			i += 4 + n + 2
		}
	}
	return -1
}
