package presign

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-presign/presign/signers"
)

// fakeStore is a Store over a fixed set of keys that pages by pageSize and
// records what it was asked.
type fakeStore struct {
	keys     []string // sorted
	pageSize int
	err      error
	prefixes []string // the prefixes listed
	exists   map[string]bool
	checks   int
}

func (f *fakeStore) List(_ context.Context, prefix, token string) (*signers.Listing, error) {
	f.prefixes = append(f.prefixes, prefix)
	if f.err != nil {
		return nil, f.err
	}
	l := new(signers.Listing)
	seen := map[string]bool{}
	n := 0
	for _, k := range f.keys {
		if !strings.HasPrefix(k, prefix) || k <= token {
			continue
		}
		if n == f.pageSize {
			l.Next = l.Objects[len(l.Objects)-1].Key
			break
		}
		rest := k[len(prefix):]
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			if f := prefix + rest[:i+1]; !seen[f] {
				seen[f] = true
				l.Folders = append(l.Folders, f)
			}
			continue
		}
		l.Objects = append(l.Objects, signers.Object{Key: k, Size: int64(len(k)), ModTime: time.Unix(1700000000, 0).UTC()})
		n++
	}
	return l, nil
}

func (f *fakeStore) Exists(_ context.Context, key string) (bool, error) {
	f.checks++
	return f.exists[key], f.err
}

// mediaProfile is an S3 profile "media" whose store nothing reaches
// (tests give the rules a fakeStore).
const mediaProfile = `profile media s3 {
		bucket media
		region us-east-1
		endpoint http://127.0.0.1:9
		path_style
		access_key_id AKID
		secret_access_key SECRET
	}`

// browseHandler provisions an S3 rule with browse and the given key
// template, and gives it store.
func browseHandler(t *testing.T, key, extra string, store *fakeStore) *Handler {
	t.Helper()
	h := newHandler(t, browseBlock(key, extra))
	h.Rules[0].store = store
	return h
}

// browseBlock is the presign block of an S3 rule /files/* with browse,
// the key template key and the extra options.
func browseBlock(key, extra string) string {
	return fmt.Sprintf(`presign {
	`+mediaProfile+`
	rule /files/* {
		profile media
		strip_prefix /files
		key %s
		browse
		%s
	}
}`, key, extra)
}

func jsonItems(t *testing.T, a answer) []browseItem {
	t.Helper()
	if a.Code != http.StatusOK {
		t.Fatalf("status %d (%v), want 200", a.Code, a.Err)
	}
	if ct := a.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	var items []browseItem
	if err := json.Unmarshal([]byte(a.Body), &items); err != nil {
		t.Fatal(err)
	}
	return items
}

func acceptJSON(r *http.Request) { r.Header.Set("Accept", "application/json") }

// TestBrowseJSON: a folder lists its folders and objects, told apart, with
// links relative to it; a key the checks refuse has no link; the answer is
// not cached; a path without "/" is presigned as before.
func TestBrowseJSON(t *testing.T) {
	st := &fakeStore{pageSize: 1000, keys: []string{
		"docs/..", "docs/a b.txt", "docs/a//b", "docs/sub/x.txt", "docs/z.bin", "other.txt",
	}}
	h := browseHandler(t, "{presign.path}", "", st)
	a := serve(t, h, "GET", "/files/docs/", acceptJSON)
	items := jsonItems(t, a)
	if cc := a.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	if st.prefixes[0] != "docs/" {
		t.Errorf("listed %q, want docs/", st.prefixes[0])
	}
	got := map[string]browseItem{}
	for _, it := range items {
		got[it.Name] = it
	}
	want := map[string]browseItem{
		"a/":      {Name: "a/", URL: "./a/", IsDir: true},
		"sub/":    {Name: "sub/", URL: "./sub/", IsDir: true},
		"..":      {Name: "..", Size: 7, ModTime: time.Unix(1700000000, 0).UTC()},
		"a b.txt": {Name: "a b.txt", Size: 12, URL: "./a%20b.txt", ModTime: time.Unix(1700000000, 0).UTC()},
		"z.bin":   {Name: "z.bin", Size: 10, URL: "./z.bin", ModTime: time.Unix(1700000000, 0).UTC()},
	}
	if len(got) != len(want) {
		t.Fatalf("items %+v, want %+v", items, want)
	}
	for n, w := range want {
		if g := got[n]; g != w {
			t.Errorf("%s: %+v, want %+v", n, g, w)
		}
	}
	if !strings.Contains(a.Body, `{"name":"sub/","size":0,"url":"./sub/","is_dir":true}`) {
		t.Errorf("a folder is not shaped as file_server's, without mod_time: %s", a.Body)
	}
	// docs/a/ holds the folder docs/a//, whose key fails the checks
	items = jsonItems(t, serve(t, h, "GET", "/files/docs/a/", acceptJSON))
	if len(items) != 1 || items[0] != (browseItem{Name: "/", IsDir: true}) {
		t.Errorf("docs/a/: %+v, want the folder / without a link", items)
	}
	if a := serve(t, h, "GET", "/files/docs/z.bin"); a.Code != http.StatusFound {
		t.Errorf("an object: status %d, want 302", a.Code)
	}
}

// TestBrowseHTML: the page escapes names, links back through the rule and
// shows the breadcrumb up to the rule's root.
func TestBrowseHTML(t *testing.T) {
	st := &fakeStore{pageSize: 1000, keys: []string{
		"u/<script>alert(1)</script>.txt", "u/<img src=x onerror=alert(1)>.txt", "u/big.bin", "u/deeper/x",
	}}
	h := browseHandler(t, "{presign.path}", "", st)
	a := serve(t, h, "GET", "/files/u/")
	if a.Code != http.StatusOK || !strings.HasPrefix(a.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("status %d, Content-Type %q", a.Code, a.Header.Get("Content-Type"))
	}
	if strings.Contains(a.Body, "<script>") || strings.Contains(a.Body, "<img") {
		t.Errorf("the hostile name is not escaped:\n%s", a.Body)
	}
	for _, want := range []string{
		// a key's "/" makes a folder: <script>alert(1)</ holds script>.txt
		`<a href="./%3Cscript%3Ealert%281%29%3C/">&lt;script&gt;alert(1)&lt;/</a>`,
		`>&lt;img src=x onerror=alert(1)&gt;.txt</a>`,
		`href="./deeper/"`,
		`<a href="./../">/files/</a>`, `<a href="./">u</a>`,
		`href="?order=asc&amp;sort=size"`,
	} {
		if !strings.Contains(a.Body, want) {
			t.Errorf("the page lacks %s:\n%s", want, a.Body)
		}
	}
}

// TestBrowsePages: a folder larger than a page is listed page by page
// through the Link header; every entry is seen once; a bad token is 400.
func TestBrowsePages(t *testing.T) {
	st := &fakeStore{pageSize: 4}
	for i := range 10 {
		st.keys = append(st.keys, fmt.Sprintf("d/k%02d", i))
	}
	h := browseHandler(t, "{presign.path}", "", st)
	seen := map[string]int{}
	target := "/files/d/"
	for pages := 1; ; pages++ {
		a := serve(t, h, "GET", target, acceptJSON)
		for _, it := range jsonItems(t, a) {
			seen[it.Name]++
		}
		link := a.Header.Get("Link")
		if link == "" {
			if pages != 3 {
				t.Errorf("%d pages, want 3", pages)
			}
			break
		}
		next, ok := strings.CutPrefix(link, "<")
		next, ok2 := strings.CutSuffix(next, `>; rel="next"`)
		if !ok || !ok2 || !strings.HasPrefix(next, "?continue=") {
			t.Fatalf("Link %q", link)
		}
		target = "/files/d/" + next
	}
	if len(seen) != 10 {
		t.Errorf("seen %v, want 10 keys once each", seen)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s listed %d times", k, n)
		}
	}
	for _, bad := range []string{"%00", "a%20b", strings.Repeat("x", maxTokenLen+1), "%C3%A9"} {
		if a := serve(t, h, "GET", "/files/d/?continue="+bad); a.Code != http.StatusBadRequest {
			t.Errorf("token %q: status %d, want 400", bad, a.Code)
		}
	}
}

// TestBrowseStaysInPrefix: a per-user template lists only the user's
// prefix, and dot segments or an empty user are refused, never listed.
func TestBrowseStaysInPrefix(t *testing.T) {
	st := &fakeStore{pageSize: 1000, keys: []string{"users/alice/a.txt", "users/bob/b.txt"}}
	h := browseHandler(t, "users/{http.auth.user.id}/{presign.path}", "", st)
	r, _ := http.NewRequest("GET", "/files/", nil)
	acceptJSON(r)
	items := jsonItems(t, serveRequest(t, h, r, "alice"))
	if len(items) != 1 || items[0].Name != "a.txt" {
		t.Errorf("alice sees %+v", items)
	}
	for _, p := range []string{"/files/x/../", "/files/%2e%2e/", "/files/x/%2E%2E/", "/files//"} {
		st.prefixes = nil
		r, _ := http.NewRequest("GET", p, nil)
		if a := serveRequest(t, h, r, "alice"); a.Code != http.StatusBadRequest && a.Code != http.StatusTeapot {
			t.Errorf("%s: status %d, want 400 (or not matched)", p, a.Code)
		}
		if len(st.prefixes) != 0 {
			t.Errorf("%s listed %q", p, st.prefixes)
		}
	}
	r, _ = http.NewRequest("GET", "/files/", nil)
	if a := serveRequest(t, h, r, ""); a.Code != http.StatusBadRequest {
		t.Errorf("no user: status %d, want 400", a.Code)
	}
}

// TestBrowseStoreDown: a failed listing is 502, or 503 with Retry-After
// for credentials, with no page.
func TestBrowseStoreDown(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{&signers.StoreError{Status: http.StatusBadGateway, Reason: "the store is unreachable", Err: errors.New("dial")}, http.StatusBadGateway},
		{&signers.StoreError{Status: http.StatusServiceUnavailable, Reason: "credentials unavailable", Err: signers.ErrCredentials}, http.StatusServiceUnavailable},
	} {
		h := browseHandler(t, "{presign.path}", "", &fakeStore{err: c.err})
		a := serve(t, h, "GET", "/files/")
		if a.Code != c.want || a.Body != "" {
			t.Errorf("status %d body %q, want %d and none", a.Code, a.Body, c.want)
		}
		if ra := a.Header.Get("Retry-After"); (c.want == http.StatusServiceUnavailable) != (ra != "") {
			t.Errorf("status %d with Retry-After %q", a.Code, ra)
		}
	}
}

// TestBrowseTemplateFile: a custom template gets the page's data.
func TestBrowseTemplateFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "list.html")
	if err := os.WriteFile(f, []byte(`{{range .Items}}[{{.Name}} {{.HumanSize}} {{.URL}}]{{end}} {{.NumFiles}} {{.Name}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	h := browseHandler(t, "{presign.path}", "browse "+f, &fakeStore{pageSize: 1000, keys: []string{"p/q/<b>.txt"}})
	a := serve(t, h, "GET", "/files/p/q/")
	if want := "[&lt;b&gt;.txt 11 B ./%3Cb%3E.txt] 1 q"; a.Body != want {
		t.Errorf("body %q, want %q", a.Body, want)
	}
}

// TestBrowseRefused: browse on a kind that cannot list, a template that
// would list the neighbours' keys, and a bad template file stop Caddy at
// start, naming the rule.
func TestBrowseRefused(t *testing.T) {
	const s3 = `profile media s3 {
		bucket media
		region us-east-1
		access_key_id AKID
		secret_access_key SECRET
	}`
	for _, c := range []struct{ block, want string }{
		{cfRuleConfig(t, "/cf/*", "browse"), `rule 1 (/cf/*): profile "cdn": browse is an option of s3, azure, gcs and local profiles, not of cloudfront ones`},
		{`presign {
	` + s3 + `
	rule /f/* {
		profile media
		key users/{http.auth.user.id}{presign.path}
		browse
	}
}`, "rule 1 (/f/*): browse needs a key template that ends with /{presign.path}"},
		{`presign {
	` + s3 + `
	rule /f/* {
		profile media
		browse /nonexistent/list.html
	}
}`, "rule 1 (/f/*): browse template: "},
		{`presign {
	` + s3 + `
	rule /f/* {
		profile media
		methods PUT
		check_exists
	}
}`, "rule 1 (/f/*): profile \"media\": browse and check_exists answer GET and HEAD"},
	} {
		h, err := parseBlock(c.block)
		if err == nil {
			_, err = provisionJSON(t, mustJSON(t, h))
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want %q", err, c.want)
		}
	}
}

// TestBrowseFormatCharacters: names holding Unicode format characters (a
// bidi override first, a zero-width space, a tag character) are shown in
// the HTML page with those characters as visible code points in a marked
// span, never raw, in the text, the download name, the breadcrumb and the
// title; the JSON keeps the raw names; the links stay the names' and lead
// to their objects. A template file can use visible too.
func TestBrowseFormatCharacters(t *testing.T) {
	rlo := "\u202Egnp.exe"
	st := &fakeStore{pageSize: 1000, keys: []string{
		"u/" + rlo, "u/a\u200Bb & c.txt", "u/tag\U000E0041.txt", "u/plain.txt", "u/\u2066dir\u2069/x",
	}}
	h := browseHandler(t, "{presign.path}", "", st)
	a := serve(t, h, "GET", "/files/u/")
	if a.Code != http.StatusOK {
		t.Fatalf("status %d (%v)", a.Code, a.Err)
	}
	for _, r := range []string{"\u202E", "\u200B", "\U000E0041", "\u2066", "\u2069"} {
		if strings.Contains(a.Body, r) {
			t.Errorf("the page holds the format character %U raw", []rune(r)[0])
		}
	}
	for _, want := range []string{
		`<a href="./%E2%80%AEgnp.exe" download="\u202Egnp.exe"><span class="cf">\u202E</span>gnp.exe</a>`,
		`>a<span class="cf">\u200B</span>b &amp; c.txt</a>`,
		`download="a\u200Bb &amp; c.txt"`,
		`>tag<span class="cf">\U000E0041</span>.txt</a>`,
		`<a href="./%E2%81%A6dir%E2%81%A9/"><span class="cf">\u2066</span>dir<span class="cf">\u2069</span>/</a>`,
		`<a href="./plain.txt" download="plain.txt">plain.txt</a>`,
	} {
		if !strings.Contains(a.Body, want) {
			t.Errorf("the page lacks %s:\n%s", want, a.Body)
		}
	}

	items := jsonItems(t, serve(t, h, "GET", "/files/u/", acceptJSON))
	names := map[string]string{}
	for _, it := range items {
		names[it.Name] = it.URL
	}
	if names[rlo] != "./%E2%80%AEgnp.exe" || names["a\u200Bb & c.txt"] == "" || names["\u2066dir\u2069/"] != "./%E2%81%A6dir%E2%81%A9/" {
		t.Errorf("the JSON does not keep the raw names and their links: %q", names)
	}
	loc := serve(t, h, "GET", "/files/u/"+names[rlo][2:]).Header.Get("Location")
	if !strings.Contains(loc, "/media/u/%E2%80%AEgnp.exe?") {
		t.Errorf("the link redirects to %q, not to the object", loc)
	}

	sub := serve(t, h, "GET", "/files/u/%E2%81%A6dir%E2%81%A9/")
	for _, want := range []string{`<title>/files/u/\u2066dir\u2069/</title>`, `<a href="./"><span class="cf">\u2066</span>dir<span class="cf">\u2069</span></a>`} {
		if !strings.Contains(sub.Body, want) {
			t.Errorf("the folder's page lacks %s:\n%s", want, sub.Body)
		}
	}

	f := filepath.Join(t.TempDir(), "list.html")
	if err := os.WriteFile(f, []byte(`{{range .Items}}[{{visible .Name}}]{{end}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	h = browseHandler(t, "{presign.path}", "browse "+f, &fakeStore{pageSize: 1000, keys: []string{"p/" + rlo}})
	if a := serve(t, h, "GET", "/files/p/"); a.Body != `[<span class="cf">\u202E</span>gnp.exe]` {
		t.Errorf("template file: body %q", a.Body)
	}
}

// BenchmarkBrowseHTML measures a page of 1000 names without format
// characters through the built-in template: visible costs them a scan.
func BenchmarkBrowseHTML(b *testing.B) {
	l := &signers.Listing{}
	for i := range 1000 {
		l.Objects = append(l.Objects, signers.Object{Key: fmt.Sprintf("u/photo-%04d & été.jpg", i), Size: int64(i), ModTime: time.Unix(1700000000, 0)})
	}
	tpl := template.Must(template.New("browse").Funcs(browseFuncs).Parse(browseHTML))
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := tpl.Execute(&buf, newBrowsePage(l, "u/", "/files/u/", "u/", "", "", "")); err != nil {
			b.Fatal(err)
		}
	}
}

// pageStore is a Store that answers every listing with one page.
type pageStore struct{ l *signers.Listing }

func (s pageStore) List(context.Context, string, string) (*signers.Listing, error) { return s.l, nil }

func (s pageStore) Exists(context.Context, string) (bool, error) {
	return true, nil
}

// BenchmarkBrowse renders a listing of 1,000 objects, as JSON and as the
// built-in HTML page: the handler's share of a listing, the store's
// decoding aside (see the kinds' List benchmarks).
func BenchmarkBrowse(b *testing.B) {
	l := &signers.Listing{}
	for i := range 1000 {
		l.Objects = append(l.Objects, signers.Object{
			Key: fmt.Sprintf("docs/file-%04d.txt", i), Size: int64(1000 + i),
			ModTime: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		})
	}
	h := newBenchHandlerOf(b, browseBlock("{presign.path}", ""))
	h.Rules[0].store = pageStore{l}
	for _, accept := range []string{"application/json", "text/html"} {
		b.Run(strings.TrimPrefix(accept, "application/"), func(b *testing.B) {
			r, w := benchRequest(b)
			r.URL.Path = "/files/docs/"
			r.Header.Set("Accept", accept)
			b.ReportAllocs()
			for b.Loop() {
				clear(w.hdr)
				if err := h.ServeHTTP(w, r, benchNext); err != nil || w.status != http.StatusOK {
					b.Fatal(w.status, err)
				}
			}
		})
	}
}
