package presign

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"

	"github.com/caddy-presign/presign/signers"
)

// browseHTML is the built-in page of browse listings.
//
//go:embed browse.html
var browseHTML string

// continueParam is the query parameter that carries the store's
// continuation token of the next page of a listing.
const continueParam = "continue"

// maxTokenLen bounds a continuation token from the client. S3's are about
// 100 to 300 bytes; stores that use the last key (up to 1024 bytes) as the
// token encode it in less than this.
const maxTokenLen = 2048

// provisionStore prepares the rule's browse and check_exists: the profile's
// Store, and browse's template. The options themselves are the profile
// kind's to check (CheckRule).
func (r *Rule) provisionStore() error {
	if !r.Browse && r.CheckExists == 0 {
		return nil
	}
	st, ok := r.signer.(signers.Store)
	if !ok {
		return fmt.Errorf("profile %q cannot list or check objects, which browse and check_exists need", r.Profile)
	}
	r.store = st
	if !r.Browse {
		return nil
	}
	// a folder's prefix is the key of its path: it must be "" or end in
	// "/" for every folder, or a listing would reach into the neighbours'
	// keys (users/alice lists users/alice2/)
	if r.Key != pathPlaceholder && !strings.HasSuffix(r.Key, "/"+pathPlaceholder) {
		return fmt.Errorf("browse needs a key template that ends with /{presign.path} or is {presign.path} alone, got %q", r.Key)
	}
	var err error
	if r.BrowseTemplate == "" {
		r.browseTpl, err = template.New("browse").Funcs(browseFuncs).Parse(browseHTML)
	} else {
		r.browseTpl, err = template.New(filepath.Base(r.BrowseTemplate)).Funcs(browseFuncs).ParseFiles(r.BrowseTemplate)
	}
	if err != nil {
		return fmt.Errorf("browse template: %v", err)
	}
	return nil
}

// browseFuncs are the functions of listing pages, the built-in one and
// template files.
var browseFuncs = template.FuncMap{"visible": visible, "visibleText": visibleText}

// visible is s as HTML that shows each of its Unicode format characters
// (category Cf: bidi controls such as U+202E, zero-width characters,
// U+FEFF) as its code point, \u202E, in a <span class="cf">, and escapes
// the rest: no name shows reversed or hidden. In an attribute, where
// html/template drops the span's tags, the code point stays. A name
// without format characters is only scanned (and escaped, which allocates
// only when it holds & < > ' " or NUL).
func visible(s string) template.HTML {
	if formatIndex(s) < 0 {
		return template.HTML(template.HTMLEscapeString(s))
	}
	return template.HTML(showFormat(s, true))
}

// shown is visible(s) when s holds a format character, else "".
func shown(s string) template.HTML {
	if formatIndex(s) < 0 {
		return ""
	}
	return template.HTML(showFormat(s, true))
}

// visibleText is s with its format characters written as their code
// points, for text that holds no markup (the page's title); the template
// escapes it.
func visibleText(s string) string {
	if formatIndex(s) < 0 {
		return s
	}
	return showFormat(s, false)
}

// showFormat writes s with each format character as its code point: in a
// <span class="cf"> and the rest HTML-escaped when html is set, plain
// otherwise.
func showFormat(s string, html bool) string {
	var b strings.Builder
	for s != "" {
		i := formatIndex(s)
		if i < 0 {
			i = len(s)
		}
		if html {
			template.HTMLEscape(&b, []byte(s[:i]))
		} else {
			b.WriteString(s[:i])
		}
		if i == len(s) {
			break
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if html {
			b.WriteString(`<span class="cf">`)
		}
		if r > 0xFFFF {
			fmt.Fprintf(&b, `\U%08X`, r)
		} else {
			fmt.Fprintf(&b, `\u%04X`, r)
		}
		if html {
			b.WriteString(`</span>`)
		}
		s = s[i+n:]
	}
	return b.String()
}

// formatIndex is the index of the first Unicode format character (Cf) of
// s, or -1. ASCII holds none.
func formatIndex(s string) int {
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if unicode.Is(unicode.Cf, r) {
			return i
		}
		i += n
	}
	return -1
}

// isFolder tells whether a request of a browse rule asks for a listing: a
// GET or HEAD whose path ends in "/".
func isFolder(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.HasSuffix(r.URL.Path, "/")
}

// serveBrowse answers a listing of the folder path ({presign.path}, "" or
// ending in "/"): one page of the store's listing of the prefix that the
// key template maps it to, as JSON or HTML.
func (h *Handler) serveBrowse(w http.ResponseWriter, r *http.Request, rule *Rule, repl *caddy.Replacer, path string, count answerCounter) error {
	prefix := rule.key.expand(repl, path)
	if prefix != "" {
		if why := checkKey(strings.TrimSuffix(prefix, "/")); why != "" || !strings.HasSuffix(prefix, "/") {
			count.inc(outcomeBadKey)
			if why == "" {
				why = "folder prefix does not end in /"
			}
			return caddyhttp.Error(http.StatusBadRequest, errors.New(why))
		}
	}
	q := r.URL.Query()
	token := q.Get(continueParam)
	if why := checkToken(token); why != "" {
		count.inc(outcomeBadKey)
		return caddyhttp.Error(http.StatusBadRequest, errors.New(why))
	}
	l, err := rule.store.List(r.Context(), prefix, token)
	if err != nil {
		return h.fail(w, rule, count, err, true)
	}

	page := newBrowsePage(l, prefix, r.URL.Path, path, q.Get("sort"), q.Get("order"), token)
	hdr := w.Header()
	hdr.Add("Vary", "Accept")
	if page.Next != "" {
		hdr.Set("Link", "<"+page.Next+`>; rel="next"`)
	}
	count.inc(outcomeListed)
	if strings.Contains(strings.ToLower(strings.Join(r.Header["Accept"], ",")), "application/json") {
		return writeJSON(w, http.StatusOK, page.Items)
	}
	var buf bytes.Buffer
	if err := rule.browseTpl.Execute(&buf, page); err != nil {
		count.inc(outcomeError)
		return caddyhttp.Error(http.StatusInternalServerError, fmt.Errorf("%s: browse template: %v", rule.name, err))
	}
	return writeBody(w, http.StatusOK, "text/html; charset=utf-8", buf.Bytes())
}

// checkToken returns why a continuation token from the client cannot be
// passed to the store, or "" when it can: at most maxTokenLen bytes of
// printable ASCII without spaces, the shape of every store's tokens. It
// cannot widen a listing: the store lists the prefix whatever the token.
func checkToken(t string) string {
	if len(t) > maxTokenLen {
		return "continuation token too long"
	}
	for i := 0; i < len(t); i++ {
		if t[i] <= ' ' || t[i] > '~' {
			return "continuation token holds a byte that no store uses"
		}
	}
	return ""
}

// browsePage is the data of a listing's HTML page, built-in or from a
// template file: the data of Caddy's file_server browse templates where it
// applies (a store has no modes, symlinks or offsets), plus Next.
type browsePage struct {
	// Name is the folder's name, the last segment of its path ("" at the
	// rule's root).
	Name string
	// Path is the request's path.
	Path string
	// CanGoUp is whether the folder has a parent within the rule.
	CanGoUp bool
	// Items are the page's folders and objects.
	Items []browseItem
	// NumDirs and NumFiles count the page's folders and objects;
	// TotalFileSize sums the objects' sizes.
	NumDirs, NumFiles int
	TotalFileSize     int64
	// Sort ("name", "size" or "time") and Order ("asc" or "desc") are the
	// order of the items; Sort "" is the store's order, folders first.
	Sort, Order string
	// Next is the link to the next page ("?continue=..."), "" on the last.
	Next string

	root  string // the path of the rule's root folder
	depth int    // the folder's depth under the rule's root
	token string // the continuation token of this page
}

// browseItem is one entry of a listing, in the JSON shape of file_server
// browse.
type browseItem struct {
	// Name is the entry's name in its folder; a folder's ends in "/".
	Name string `json:"name"`
	// Size is the object's size in bytes (0 for folders).
	Size int64 `json:"size"`
	// URL is the entry's link, relative to the folder ("./name"): back
	// through the rule, a folder lists and an object redirects. "" for a
	// key that the key checks refuse (a//b, ..): such entries are shown
	// without a link.
	URL string `json:"url"`
	// ModTime is the object's last modification; absent for folders.
	ModTime time.Time `json:"mod_time,omitzero"`
	// IsDir tells folders from objects.
	IsDir bool `json:"is_dir"`
	// Shown is the name as the HTML page shows it (visible) when it holds
	// a format character, else "": {{if .Shown}}{{.Shown}}{{else}}{{.Name}}{{end}}
	// costs a name without one nothing. The JSON keeps the raw name alone.
	Shown template.HTML `json:"-"`
}

// HumanSize is the size with IEC units, as file_server shows it.
func (i browseItem) HumanSize() string { return humanize.IBytes(uint64(i.Size)) }

// HumanModTime formats the modification time with a Go time layout.
func (i browseItem) HumanModTime(layout string) string { return i.ModTime.Format(layout) }

// HasExt tells whether the name ends with one of exts, ignoring case.
func (i browseItem) HasExt(exts ...string) bool {
	for _, e := range exts {
		if strings.HasSuffix(strings.ToLower(i.Name), strings.ToLower(e)) {
			return true
		}
	}
	return false
}

// HumanTotalFileSize is TotalFileSize with IEC units.
func (p *browsePage) HumanTotalFileSize() string { return humanize.IBytes(uint64(p.TotalFileSize)) }

// crumb is one step of the breadcrumb: a link relative to the page, and
// its text.
type crumb struct{ Link, Text string }

// Breadcrumbs are the steps from the rule's root to this folder. They
// never lead above the rule's root, which is the first.
func (p *browsePage) Breadcrumbs() []crumb {
	crumbs := []crumb{{Link: "./" + strings.Repeat("../", p.depth), Text: p.root}}
	if p.depth == 0 {
		return crumbs
	}
	segs := strings.Split(strings.TrimSuffix(p.Path[len(p.root):], "/"), "/")
	for i, s := range segs {
		crumbs = append(crumbs, crumb{Link: "./" + strings.Repeat("../", len(segs)-1-i), Text: s})
	}
	return crumbs
}

// SortURL is the link that orders this page by col (name, size or time):
// ascending, or descending when it is so ordered already.
func (p *browsePage) SortURL(col string) string {
	order := "asc"
	if p.Sort == col && p.Order != "desc" {
		order = "desc"
	}
	v := url.Values{"sort": {col}, "order": {order}}
	if p.token != "" {
		v.Set(continueParam, p.token)
	}
	return "?" + v.Encode()
}

// newBrowsePage builds the page of listing l of prefix, for the request
// path reqPath whose {presign.path} is path.
func newBrowsePage(l *signers.Listing, prefix, reqPath, path, sortBy, order, token string) *browsePage {
	p := &browsePage{
		Path:    reqPath,
		CanGoUp: path != "",
		Items:   make([]browseItem, 0, len(l.Folders)+len(l.Objects)),
		root:    reqPath[:len(reqPath)-len(path)],
		depth:   strings.Count(path, "/"),
		token:   token,
	}
	if path != "" {
		p.Name = strings.TrimSuffix(path, "/")
		p.Name = p.Name[strings.LastIndexByte(p.Name, '/')+1:]
	}
	for _, f := range l.Folders {
		name := f[len(prefix):]
		it := browseItem{Name: name, IsDir: true, Shown: shown(name)}
		if checkKey(strings.TrimSuffix(f, "/")) == "" {
			it.URL = "./" + url.PathEscape(strings.TrimSuffix(name, "/")) + "/"
		}
		p.Items = append(p.Items, it)
		p.NumDirs++
	}
	for _, o := range l.Objects {
		name := o.Key[len(prefix):]
		if name == "" {
			continue // the folder's own marker object ("photos/")
		}
		it := browseItem{Name: name, Size: o.Size, ModTime: o.ModTime, Shown: shown(name)}
		if checkKey(o.Key) == "" {
			it.URL = "./" + url.PathEscape(name)
		}
		p.Items = append(p.Items, it)
		p.NumFiles++
		p.TotalFileSize += o.Size
	}
	p.sortItems(sortBy, order)
	if l.Next != "" {
		v := url.Values{continueParam: {l.Next}}
		if p.Sort != "" {
			v.Set("sort", p.Sort)
			v.Set("order", p.Order)
		}
		p.Next = "?" + v.Encode()
	}
	return p
}

// sortItems orders the page's items by sortBy (name, size or time; other
// values keep the store's order) and order (asc or desc).
func (p *browsePage) sortItems(sortBy, order string) {
	var less func(a, b *browseItem) bool
	switch sortBy {
	case "name":
		less = func(a, b *browseItem) bool { return strings.ToLower(a.Name) < strings.ToLower(b.Name) }
	case "size":
		less = func(a, b *browseItem) bool { return a.Size < b.Size }
	case "time":
		less = func(a, b *browseItem) bool { return a.ModTime.Before(b.ModTime) }
	default:
		return
	}
	if order != "desc" {
		order = "asc"
	}
	p.Sort, p.Order = sortBy, order
	sort.SliceStable(p.Items, func(i, j int) bool {
		if order == "desc" {
			return less(&p.Items[j], &p.Items[i])
		}
		return less(&p.Items[i], &p.Items[j])
	})
}
