package pagetest

import (
	"flag"
	"math/rand/v2"
	"strings"
	"testing"
)

var (
	trickyN    = flag.Int("tricky", 20000, "how many tricky documents a differential test of the XML reader reads")
	trickySeed = flag.Uint64("tricky.seed", 1, "the seed of the tricky documents")
)

// ReadTricky gives each tricky document of v to read, which fails t where
// a reader parts from encoding/xml and tells whether it read a listing;
// it fails t if no document was read: a test of refusals only.
func ReadTricky(t testing.TB, v Vocab, read func([]byte) bool) {
	t.Helper()
	n := 0
	for doc := range TrickyDocs(v) {
		if read(doc) {
			n++
		}
	}
	if n == 0 {
		t.Fatal("no tricky document was read as a listing: the test tests refusals only")
	}
	t.Logf("%d tricky documents read as listings", n)
}

// TrickyDocs yields the tricky documents of v that a differential test
// reads: -tricky of them from -tricky.seed, the same on every run unless
// asked otherwise.
func TrickyDocs(v Vocab) func(yield func([]byte) bool) {
	return func(yield func([]byte) bool) {
		r := rand.New(rand.NewPCG(*trickySeed, 0)) //nolint:gosec // G404: a seeded generator, for the same documents each run; no secret
		for range *trickyN {
			if !yield(Tricky(r, v)) {
				return
			}
		}
	}
}

// A Vocab is what a listing's documents are made of: its root element,
// the elements inside it (a path from the root, "Blobs>Blob>Name"), and
// the attributes its readers look at, and the texts that make a listing
// its readers take.
type Vocab struct {
	Root     string
	Elements []string
	Attrs    []string
	Texts    map[string][]string // an element's likely texts, by name
}

// Tricky writes a listing document of v from the pieces of XML on which a
// hand-written reader may part from encoding/xml: names with prefixes,
// colons and runes beyond ASCII, repeated attributes, entities and
// character references at the edges of what XML allows, CDATA sections,
// line ends, comments, processing instructions and directives in odd
// places, end tags with spaces or a wrong name. A document holds at most
// two pieces that XML refuses, and half hold none, so that most are read
// to their end rather than refused at their start.
func Tricky(r *rand.Rand, v Vocab) []byte {
	g := tricky{r: r, v: v, risk: r.IntN(4) / 2}
	if r.IntN(4) == 0 {
		g.risk = 2
	}
	for range r.IntN(3) {
		g.misc()
	}
	g.element("", 0)
	if r.IntN(4) == 0 {
		g.choose([]string{"<!-- after -->", "\n"}, []string{"trailing <junk", "</" + v.Root + ">"})
	}
	return []byte(g.b.String())
}

type tricky struct {
	r    *rand.Rand
	v    Vocab
	b    strings.Builder
	risk int // how many more pieces that XML refuses the document may hold
}

// choose writes one of valid, or, once in 8 while the document may hold
// one more, one of risky.
func (g *tricky) choose(valid, risky []string) { g.b.WriteString(g.one(valid, risky, 8)) }

// one returns one of valid, or, once in odds while the document may hold
// one more, one of risky.
func (g *tricky) one(valid, risky []string, odds int) string {
	if g.risk > 0 && len(risky) > 0 && g.rare(odds) {
		g.risk--
		return risky[g.r.IntN(len(risky))]
	}
	return valid[g.r.IntN(len(valid))]
}

// rare is true once in n.
func (g *tricky) rare(n int) bool { return g.r.IntN(n) == 0 }

// misc writes what may stand between elements: a comment, a processing
// instruction or a directive.
func (g *tricky) misc() {
	g.choose([]string{
		`<?xml version="1.0" encoding="UTF-8"?>`, `<?xml version='1.0'?>`, `<?xml-stylesheet href="a"?>`,
		`<?A!?>`, `<?a:b:c x?>`, `<?é?>`, `<!-- c -->`, `<!---->`, `<!DOCTYPE a>`, `<!DOCTYPE a [<!ENTITY e "x">]>`,
		`<!DOCTYPE a "q>q">`, `<!DOCTYPE a <!-- x -- y -->>`, `<!DOCTYPE a <!---->>`, `<![CDATA[x]]>`,
		"\n", " ", "\r\n", "\ufeff",
	}, []string{
		`<?xml version="1.1"?>`, `<?xml encoding="latin1"?>`, `<??>`, `<?ʰ?>`, `<?a`, `<!-- a -- b -->`,
		`<!--->`, `<!-x>`, `<![CDAT[x]]>`, `<!DOCTYPE a`,
	})
}

// name returns the element or attribute name n as it may appear: plain,
// prefixed, or odd.
func (g *tricky) name(n string) string {
	if !g.rare(8) {
		return n
	}
	valid := []string{"s3:" + n, ":" + n, n + ":", "xmlns:" + n, n + "é", n + "\u0301", "x" + n, n + "-1.x"}
	risky := []string{"a:b:" + n, n + "ʰ", "ʰ" + n, n + "\xff", "1" + n}
	return g.one(valid, risky, 4)
}

// element writes the element at rel, a path below the root ("" is the
// root), with attributes, text and the elements of the vocabulary below it.
func (g *tricky) element(rel string, depth int) {
	n := g.v.Root
	if rel != "" {
		n = rel[strings.LastIndexByte(rel, '>')+1:]
	}
	name := g.name(n)
	g.b.WriteString("<" + name)
	for range g.r.IntN(3) {
		g.attr()
	}
	if g.rare(8) {
		g.choose([]string{"/>", " />"}, []string{"/ >"})
		return
	}
	g.choose([]string{">", " >", "\n>"}, nil)
	likely := g.v.Texts[n]
	if len(likely) > 0 && !g.rare(8) {
		g.choose(likely, nil)
		likely = nil
	}
	for _, e := range g.below(rel) {
		if len(g.v.Texts[e[strings.LastIndexByte(e, '>')+1:]]) > 0 && !g.rare(8) {
			g.element(e, depth+1)
		}
	}
	for range g.r.IntN(5) {
		switch g.r.IntN(5) {
		case 0, 1:
			if likely == nil && len(g.v.Texts[n]) > 0 {
				if g.rare(4) {
					g.misc()
				}
				continue
			}
			g.text()
		case 2:
			if g.rare(3) {
				g.misc()
			}
		default:
			if depth < 5 {
				g.child(rel, depth)
			}
		}
	}
	g.b.WriteString("</")
	g.choose([]string{name}, []string{g.name(n), n + "x"})
	g.choose([]string{">", ">", " >", "\t\r\n>"}, []string{" x>"})
}

// child writes an element of the vocabulary one level below rel, or now
// and then one it does not hold.
func (g *tricky) child(rel string, depth int) {
	below := g.below(rel)
	if len(below) == 0 || g.rare(10) {
		g.element(strings.TrimPrefix(rel+">Other", ">"), depth+1)
		return
	}
	g.element(below[g.r.IntN(len(below))], depth+1)
}

// below is the vocabulary's elements one level below rel.
func (g *tricky) below(rel string) []string {
	var below []string
	for _, e := range g.v.Elements {
		rest, ok := e, rel == ""
		if !ok {
			rest, ok = strings.CutPrefix(e, rel+">")
		}
		if ok && !strings.Contains(rest, ">") {
			below = append(below, e)
		}
	}
	return below
}

// attr writes an attribute, most often one the readers look at.
func (g *tricky) attr() {
	name := "xmlns"
	if len(g.v.Attrs) > 0 && !g.rare(3) {
		name = g.v.Attrs[g.r.IntN(len(g.v.Attrs))]
	}
	g.choose([]string{" ", "\n", "  "}, []string{""})
	g.b.WriteString(g.name(name))
	g.choose([]string{"=", " = "}, []string{" "})
	q := `"`
	if g.rare(3) {
		q = "'"
	}
	g.b.WriteString(q)
	g.choose([]string{"true", "false", "media", "b", "", " 1 ", "a&amp;b", "a&#x41;", "a\r\nb", "&#xD800;", "x]]>", "%41"},
		[]string{"maybe", "a<b", "a&nbsp;", "&#0;", q})
	g.b.WriteString(q)
}

// text writes character data: plain, with entities and character
// references at XML's edges, CDATA sections, line ends, bytes XML refuses.
func (g *tricky) text() {
	g.choose([]string{
		"p/", "p/a", "b", " 12 ", "7", "true", "false", "x", "", "p/%41", "p/a%zz",
		"2026-01-02T03:04:05Z", "2026-01-02T03:04:05.123+01:00", "Fri, 02 Jan 2026 03:04:05 GMT",
		"&amp;", "&lt;&gt;&quot;&apos;", "&#65;", "&#x41;", "&#xD800;", "&#xDFFF;", "&#xFFFD;", "&#x10FFFF;",
		"&#9;", "&#13;", "]]&gt;", "]&#93;>", "a\rb", "a\r\nb", "a\r\rb", "\u00a0", "é", "\t",
		"<![CDATA[p/<x>]]>", "<![CDATA[a\r\nb\rc]]>", "<![CDATA[]]>", "<![CDATA[a]]]>",
	}, []string{
		"&#X41;", "&#xFFFE;", "&#x110000;", "&#0;", "&#;", "&#x;", "&#99999999999999999999;", "&nbsp;", "&amp",
		"&ʰ;", "& ;", "]]>", "\x01", "\xff", "\ufffe",
	})
}
