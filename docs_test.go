package presign

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-presign/presign/internal/cfverify"
	"github.com/caddy-presign/presign/internal/gcsverify"
	"github.com/caddy-presign/presign/signers"
)

// The manual is README.md and docs/*.md. Its fenced blocks carry, after
// the language, words that GitHub does not show and the tests read:
//
//   - how a Caddyfile block is validated (TestDocsCaddyfileBlocks): no word
//     for a whole Caddyfile; "site" for the inside of a site block, wrapped
//     in `:8080 { … }`; "presign" for the inside of a presign block;
//     "profile" for one profile, wrapped in a presign block with a rule
//     that uses it; "rules" for rules, wrapped in a presign block with a
//     profile `media` of kind s3; "syntax" for a block of syntax, which is
//     not validated; and "adapt" for a block that Caddy could not start
//     without the cloud it names (a KMS key), which is only adapted;
//   - "#name": a block that a test finds by that name (the system tests
//     in systest/docs_test.go run the shell and page snippets so named).

// docBlock is one fenced block of the manual.
type docBlock struct {
	file, lang, body string
	line             int
	words            []string // the info string after the language
}

// where names the block in a test's message.
func (b docBlock) where() string { return fmt.Sprintf("%s:%d", b.file, b.line) }

// has tells whether the block's info string holds word.
func (b docBlock) has(word string) bool { return slices.Contains(b.words, word) }

// manualFiles are the manual's files: README.md, then docs/*.md.
func manualFiles(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob("docs/*.md")
	if err != nil || len(docs) < 6 {
		t.Fatalf("docs/*.md: %v, %d files", err, len(docs))
	}
	return append([]string{"README.md"}, docs...)
}

// manual is the text of the manual's files, one after the other.
func manual(t *testing.T) string {
	var all strings.Builder
	for _, f := range manualFiles(t) {
		all.WriteString(readDoc(t, f))
	}
	return all.String()
}

// readDoc returns one file of the manual.
func readDoc(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fence is a fenced block: the info string and the body.
var fence = regexp.MustCompile("(?ms)^```([^\n]*)\n(.*?)^```")

// docBlocks are the fenced blocks of the manual.
func docBlocks(t *testing.T) []docBlock {
	t.Helper()
	var blocks []docBlock
	for _, f := range manualFiles(t) {
		text := readDoc(t, f)
		for _, m := range fence.FindAllStringSubmatchIndex(text, -1) {
			info := strings.Fields(text[m[2]:m[3]])
			b := docBlock{file: f, body: text[m[4]:m[5]], line: strings.Count(text[:m[0]], "\n") + 1}
			if len(info) > 0 {
				b.lang, b.words = info[0], info[1:]
			}
			blocks = append(blocks, b)
		}
	}
	return blocks
}

// elidedProfile is a profile whose options the manual leaves out, `profile
// media s3 { … }`.
var elidedProfile = regexp.MustCompile(`profile (\S+) s3 \{ … \}`)

// docSubstitutions make the manual's Caddyfiles valid on a test machine:
// its key and template files become the tests' own, and its environment
// variables get values of the right shape.
func docSubstitutions(t *testing.T) *strings.Replacer {
	t.Helper()
	for _, k := range []string{
		"SPACES_KEY", "SPACES_SECRET", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY", "R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY",
		"GCS_HMAC_ID", "GCS_HMAC_SECRET", "OCI_ACCESS_KEY_ID", "OCI_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
		"DEMO_ACCESS_KEY", "DEMO_SECRET_KEY",
	} {
		t.Setenv(k, "example-"+strings.ToLower(k))
	}
	t.Setenv("AZURE_STORAGE_KEY", "ZXhhbXBsZS1henVyZS1zdG9yYWdlLWtleQ==")
	// the local kind's secrets: 32 bytes or more
	for _, k := range []string{"LINK_KEY_K1", "LINK_KEY_K2"} {
		t.Setenv(k, "example-"+strings.ToLower(k)+"-0123456789abcdef0123456789")
	}
	dir := t.TempDir()
	sa, err := gcsverify.WriteAccount("signers/gcs/testdata/service-account", dir)
	if err != nil {
		t.Fatal(err)
	}
	template := filepath.Join(dir, "browse-delete.html")
	if err := os.WriteFile(template, []byte(namedBlock(t, "html", "#browse-delete").body), 0o600); err != nil {
		t.Fatal(err)
	}
	pem := "signers/cloudfront/testdata/cloudfront-rsa-pkcs1.pem"
	return strings.NewReplacer(
		"/etc/caddy/cloudfront-private.pem", pem, "/etc/caddy/cloudfront.pem", pem,
		"/etc/caddy/sa.json", sa.File,
		"/etc/caddy/browse-delete.html", template,
		"{file./run/secrets/link-k2}", "{env.LINK_KEY_K2}",
		"<ACCOUNT_ID>", "0123456789abcdef", "<namespace>", "example-namespace")
}

// namedBlock is the manual's one block of language lang named name.
func namedBlock(t *testing.T, lang, name string) docBlock {
	t.Helper()
	var found []docBlock
	for _, b := range docBlocks(t) {
		if b.lang == lang && b.has(name) {
			found = append(found, b)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %s blocks named %s in the manual, want one", len(found), lang, name)
	}
	return found[0]
}

// wrapCaddyfile makes a whole Caddyfile of a block, as its words say.
func wrapCaddyfile(b docBlock) (string, error) {
	body := b.body
	switch {
	case b.has("site"):
		return ":8080 {\n" + body + "}\n", nil
	case b.has("presign"):
		return ":8080 {\npresign {\n" + body + "}\n}\n", nil
	case b.has("profile"):
		f := strings.Fields(body)
		if len(f) < 3 || f[0] != "profile" {
			return "", fmt.Errorf("a profile block that does not start with profile <name> <kind>")
		}
		return ":8080 {\npresign {\n" + body + "rule /x/* {\nprofile " + f[1] + "\n}\n}\n}\n", nil
	case b.has("rules"):
		return ":8080 {\npresign {\nprofile media s3 { … }\n" + body + "}\n}\n", nil
	}
	return body, nil
}

// TestDocsCaddyfileBlocks: every Caddyfile block of the manual passes
// `caddy validate` (those marked "adapt": the Caddyfile adapter), wrapped
// as its words say, with the elided profile `profile media s3 { … }`
// filled in; a block with any other "…" fails.
func TestDocsCaddyfileBlocks(t *testing.T) {
	subst := docSubstitutions(t)
	checked := 0
	for _, b := range docBlocks(t) {
		if b.lang != "caddyfile" || b.has("syntax") {
			continue
		}
		site, err := wrapCaddyfile(b)
		if err == nil {
			site = elidedProfile.ReplaceAllString(subst.Replace(site), "profile $1 s3 {\nbucket example-bucket\nregion us-east-1\n}")
			switch {
			case strings.Contains(site, "…"):
				err = fmt.Errorf("an elision other than `profile <name> s3 { … }`")
			case b.has("adapt"):
				_, err = adapt(t, site)
			default:
				err = validate(t, site)
			}
		}
		if err != nil {
			t.Errorf("%s (%s): %v", b.where(), strings.SplitN(b.body, "\n", 2)[0], err)
		}
		checked++
	}
	if checked < 25 {
		t.Errorf("only %d Caddyfile blocks in the manual", checked)
	}
}

// TestDocsJSONExample: the JSON config of docs/caddyfile.md passes `caddy
// validate` as a handler of a route.
func TestDocsJSONExample(t *testing.T) {
	docSubstitutions(t)
	ref := readDoc(t, "docs/caddyfile.md")
	i := strings.Index(ref, "## JSON config")
	if i < 0 {
		t.Fatal("no JSON config section in docs/caddyfile.md")
	}
	m := regexp.MustCompile("(?s)```json\n(.*?)```").FindStringSubmatch(ref[i:])
	raw := strings.ReplaceAll(m[1], "/etc/caddy/cloudfront.pem", "signers/cloudfront/testdata/cloudfront-rsa-pkcs1.pem")
	var handler map[string]any
	if err := json.Unmarshal([]byte(raw), &handler); err != nil {
		t.Fatalf("the JSON example: %v", err)
	}
	cfg, _ := json.Marshal(map[string]any{"apps": map[string]any{"http": map[string]any{"servers": map[string]any{
		"s": map[string]any{"listen": []string{":8080"}, "routes": []any{map[string]any{"handle": []any{handler}}}},
	}}}})
	var c caddy.Config
	if err := json.Unmarshal(cfg, &c); err != nil {
		t.Fatal(err)
	}
	if err := caddy.Validate(&c); err != nil {
		t.Errorf("the JSON example: %v", err)
	}
}

// docTable is a table of the manual under its heading: its rows, each a
// list of cells.
type docTable struct {
	heading string
	rows    [][]string
}

// docTables are the tables of a markdown text, without their header and
// separator rows. `\|` in a cell is a "|".
func docTables(text string) []docTable {
	var tables []docTable
	heading, inTable := "", false
	for _, line := range strings.Split(fence.ReplaceAllString(text, ""), "\n") {
		switch {
		case strings.HasPrefix(line, "#"):
			heading, inTable = strings.TrimSpace(strings.TrimLeft(line, "#")), false
		case strings.HasPrefix(line, "|"):
			if !inTable {
				tables = append(tables, docTable{heading: heading})
				inTable = true
				continue // the header row
			}
			if strings.HasPrefix(line, "|---") {
				continue
			}
			line = strings.ReplaceAll(strings.Trim(line, "|"), `\|`, "\x00")
			var cells []string
			for _, c := range strings.Split(line, "|") {
				cells = append(cells, strings.TrimSpace(strings.ReplaceAll(c, "\x00", "|")))
			}
			tables[len(tables)-1].rows = append(tables[len(tables)-1].rows, cells)
		default:
			inTable = false
		}
	}
	return tables
}

var codeSpan = regexp.MustCompile("`([^`]+)`")

// codeSpans are the `…` spans of a cell.
func codeSpans(cell string) []string {
	var spans []string
	for _, m := range codeSpan.FindAllStringSubmatch(cell, -1) {
		spans = append(spans, m[1])
	}
	return spans
}

// syntaxWord is a word of an option's syntax: a <value> may hold spaces.
var syntaxWord = regexp.MustCompile(`\[?<[^>]*>\]?…?|\S+`)

// sampleLine turns an option's syntax in the reference ("expires
// <duration>", "role_arn <arn> [<external_id>]", "status 302|303|307",
// "methods <method>…") into a line the parser takes: optional arguments
// given, the first of a choice, one of a repeatable value.
func sampleLine(syntax string) string {
	var out []string
	for _, w := range syntaxWord.FindAllString(syntax, -1) {
		w = strings.TrimSuffix(strings.Trim(w, "[]"), "…")
		w, _, _ = strings.Cut(w, "|")
		switch w {
		case "<duration>", "<window>":
			w = "1m"
		case "<size>":
			w = "1MB"
		case "<RFC 3339 time>":
			w = "2026-12-06T09:00:00Z"
		}
		if strings.HasPrefix(w, "<") {
			w = "v"
		}
		out = append(out, w)
	}
	return strings.Join(out, " ")
}

// knownSubdirectives are the subdirectives that the parser of a block
// accepts, as it lists them when it refuses an unknown one.
func knownSubdirectives(t *testing.T, site string) []string {
	t.Helper()
	_, err := adapt(t, site)
	m := regexp.MustCompile(`unknown subdirective "zz_unknown" in [^(]*\(([^)]*)\)`).FindStringSubmatch(fmt.Sprint(err))
	if m == nil {
		t.Fatalf("the parser's error for an unknown subdirective lists no known ones: %v", err)
	}
	return strings.Split(m[1], ", ")
}

// adaptedKeys are the JSON fields that the one profile p or the one rule
// of a presign block gets from the Caddyfile adapter, without "type" and
// "path".
func adaptedKeys(t *testing.T, site string, rule bool) ([]string, error) {
	t.Helper()
	raw, err := adapt(t, site)
	if err != nil {
		return nil, err
	}
	var cfg struct {
		Apps struct {
			HTTP struct {
				Servers map[string]struct {
					Routes []struct {
						Handle []struct {
							Profiles map[string]map[string]any `json:"profiles"`
							Rules    []map[string]any          `json:"rules"`
						} `json:"handle"`
					} `json:"routes"`
				} `json:"servers"`
			} `json:"http"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, err
	}
	h := cfg.Apps.HTTP.Servers["srv0"].Routes[0].Handle[0]
	obj := h.Profiles["p"]
	if rule {
		obj = h.Rules[0]
	}
	var keys []string
	for k := range obj {
		if k != "type" && k != "path" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys, nil
}

// jsonFields are the JSON names of the exported fields of a struct type,
// those of embedded structs included.
func jsonFields(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			names = append(names, jsonFields(f.Type)...)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.IsExported() && name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}

// sorted returns a sorted copy without repeats.
func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return slices.Compact(s)
}

// TestDocsReference: docs/caddyfile.md has a table for every profile kind
// and one for rules, and they are the code's: a table's options are exactly
// those the Caddyfile parser accepts, each once; each row's option,
// parsed by the Caddyfile adapter with sample values, sets exactly the JSON
// fields the row names; the rows name every JSON field of the kind's
// struct (of the Rule, for rules), and no other; and the rule table names,
// for each signing option, the kinds that declare it (signers.RegisterKind),
// and "all" for the rule's own options.
func TestDocsReference(t *testing.T) {
	tables := map[string][][]string{}
	for _, tb := range docTables(readDoc(t, "docs/caddyfile.md")) {
		if tables[tb.heading] != nil {
			t.Errorf("docs/caddyfile.md: two tables under %q", tb.heading)
		}
		tables[tb.heading] = tb.rows
	}
	check := func(what string, rows [][]string, cols int, known, fields []string, sample func(line string) string, rule bool) {
		var names, documented []string
		for _, row := range rows {
			if len(row) != cols {
				t.Errorf("%s: a row of %d cells, want %d: %q", what, len(row), cols, row)
				continue
			}
			syntax, json := codeSpans(row[0]), codeSpans(row[1])
			if len(syntax) == 0 || len(json) == 0 {
				t.Errorf("%s: the row %q does not give its option and JSON fields as `code`", what, row[0])
				continue
			}
			line := sampleLine(syntax[0])
			names = append(names, strings.Fields(line)[0])
			documented = append(documented, json...)
			got, err := adaptedKeys(t, sample(line), rule)
			if err != nil {
				t.Errorf("%s: %q (as %q) does not parse: %v", what, syntax[0], line, err)
			} else if want := sorted(json); !slices.Equal(got, want) {
				t.Errorf("%s: %q sets the JSON fields %v, the table says %v", what, line, got, want)
			}
		}
		if !slices.Equal(sorted(names), sorted(known)) || len(names) != len(known) {
			t.Errorf("%s: the table's options are\n\t%v\nthe parser's are\n\t%v", what, names, known)
		}
		if got, want := sorted(documented), sorted(fields); !slices.Equal(got, want) {
			t.Errorf("%s: the table's JSON fields are\n\t%v\nthe struct's are\n\t%v", what, got, want)
		}
	}

	mods := userKinds()
	if len(mods) < 5 {
		t.Fatalf("%d kinds registered", len(mods))
	}
	for _, m := range mods {
		kind := m.ID.Name()
		what := "docs/caddyfile.md, `" + kind + "` profiles"
		rows := tables["`"+kind+"` profiles"]
		if rows == nil {
			t.Errorf("%s: no table", what)
			continue
		}
		block := func(line string) string {
			return ":8080 {\npresign {\nprofile p " + kind + " {\n" + line + "\n}\n}\n}\n"
		}
		check(what, rows, 3, knownSubdirectives(t, block("zz_unknown")), jsonFields(reflect.TypeOf(m.New()).Elem()), block, false)
	}

	rows := tables["Rules"]
	if rows == nil {
		t.Fatal("docs/caddyfile.md: no table under \"Rules\"")
	}
	block := func(line string) string { return ":8080 {\npresign {\nrule /x/* {\n" + line + "\n}\n}\n}\n" }
	fields := slices.DeleteFunc(jsonFields(reflect.TypeOf(Rule{})), func(s string) bool { return s == "path" })
	check("docs/caddyfile.md, rules", rows, 4, knownSubdirectives(t, block("zz_unknown")), fields, block, true)
	signing := signers.OptionNames()
	for _, row := range rows {
		if len(row) != 4 || len(codeSpans(row[0])) == 0 {
			continue
		}
		opt := strings.Fields(codeSpans(row[0])[0])[0]
		want := []string{"all"}
		if slices.Contains(signing, opt) {
			want = nil
			for _, m := range mods {
				if slices.Contains(signers.KindNamed(m.ID.Name()).Options(), opt) {
					want = append(want, m.ID.Name())
				}
			}
		}
		got := codeSpans(row[2])
		if row[2] == "all" {
			got = []string{"all"}
		}
		if !slices.Equal(sorted(got), sorted(want)) {
			t.Errorf("docs/caddyfile.md, rules: %s is for the kinds %v, the table says %q", opt, want, row[2])
		}
	}
}

// TestDocsMetrics: the metrics table of docs/operations.md names every
// series of the handler with its labels, and exactly the code's values of
// each enumerated label: the methods and outcomes of answers, those of
// uppy calls, the verdicts of guarded links and the outcomes of remote
// signing calls.
func TestDocsMetrics(t *testing.T) {
	var rows [][]string
	for _, tb := range docTables(readDoc(t, "docs/operations.md")) {
		if len(tb.rows) > 0 && strings.HasPrefix(tb.rows[0][0], "`caddy_presign_") {
			rows = tb.rows
		}
	}
	if rows == nil {
		t.Fatal("docs/operations.md: no table of the caddy_presign_ series")
	}
	labels := map[string][]string{} // series → its documented labels
	values := map[string][]string{} // "series label" → its documented values
	series := ""
	for _, row := range rows {
		if len(row) != 3 {
			t.Fatalf("docs/operations.md: a metrics row of %d cells: %q", len(row), row)
		}
		if row[0] != "" {
			series = codeSpans(row[0])[0]
			if strings.Contains(row[0], "`uppy` rules") {
				series += " uppy"
			}
		}
		for _, l := range codeSpans(row[1]) {
			labels[strings.TrimSuffix(series, " uppy")] = append(labels[strings.TrimSuffix(series, " uppy")], l)
			values[series+" "+l] = codeSpans(row[2])
		}
	}
	for key, want := range map[string][]string{
		"caddy_presign_answers_total method":            methodLabels[:],
		"caddy_presign_answers_total outcome":           outcomeNames[:],
		"caddy_presign_answers_total uppy method":       uppyCallNames[:],
		"caddy_presign_answers_total uppy outcome":      uppyOutcomeNames[:],
		"caddy_presign_verifications_total outcome":     verdictNames[:],
		"caddy_presign_remote_signatures_total outcome": remoteOutcomeNames[:],
	} {
		if got := values[key]; !slices.Equal(got, want) {
			t.Errorf("docs/operations.md, %s: %v; the code's: %v", key, got, want)
		}
	}

	m, err := newMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	descs := make(chan *prometheus.Desc, 8)
	m.answers.Describe(descs)
	m.signing.Describe(descs)
	m.verifications.Describe(descs)
	m.remote.Describe(descs)
	m.remoteSeconds.Describe(descs)
	close(descs)
	re := regexp.MustCompile(`fqName: "([^"]+)".*variableLabels: \{([^}]*)\}`)
	n := 0
	for d := range descs {
		f := re.FindStringSubmatch(d.String())
		if f == nil {
			t.Fatalf("cannot read %s", d)
		}
		n++
		if got, want := sorted(labels[f[1]]), sorted(strings.Split(f[2], ",")); !slices.Equal(got, want) {
			t.Errorf("docs/operations.md, %s: labels %v, the code's %v", f[1], got, want)
		}
	}
	if n != len(labels) {
		t.Errorf("docs/operations.md documents %d series, the code has %d", len(labels), n)
	}
}

// slug is GitHub's anchor of a heading.
func slug(heading string) string {
	s := strings.ToLower(strings.TrimSpace(heading))
	s = regexp.MustCompile(`[^\p{L}\p{N}\- _]`).ReplaceAllString(s, "")
	return strings.ReplaceAll(s, " ", "-")
}

// TestDocsLinks: every relative link of the manual leads to a file of the
// repository, and every #anchor to a heading of its file.
func TestDocsLinks(t *testing.T) {
	anchors := map[string]map[string]bool{}
	heading := regexp.MustCompile(`(?m)^#+ (.*)$`)
	anchorsOf := func(file string) map[string]bool {
		if anchors[file] == nil {
			anchors[file] = map[string]bool{}
			b, _ := os.ReadFile(file)
			for _, h := range heading.FindAllStringSubmatch(fence.ReplaceAllString(string(b), ""), -1) {
				anchors[file][slug(h[1])] = true
			}
		}
		return anchors[file]
	}
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	n := 0
	for _, f := range manualFiles(t) {
		text := fence.ReplaceAllString(readDoc(t, f), "")
		for _, m := range link.FindAllStringSubmatch(text, -1) {
			target := m[1]
			if strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			n++
			path, anchor, _ := strings.Cut(target, "#")
			file := f
			if path != "" {
				file = filepath.Join(filepath.Dir(f), path)
				if _, err := os.Stat(file); err != nil {
					t.Errorf("%s: the link %s: %v", f, target, err)
					continue
				}
			}
			if anchor != "" && !anchorsOf(file)[anchor] {
				t.Errorf("%s: the link %s: no such heading in %s", f, target, file)
			}
		}
	}
	if n < 40 {
		t.Errorf("only %d relative links in the manual", n)
	}
}

// TestDocsCloudFrontURL: the plain CloudFront example of docs/providers.md,
// with the tests' key, answers GET /video/intro.mp4 as the text says: a 302
// to the distribution's media/intro.mp4 with Expires, Signature and
// Key-Pair-Id (a canned policy) for an hour, which CloudFront's checks
// accept, and refuse once the path is changed.
func TestDocsCloudFrontURL(t *testing.T) {
	b := namedBlock(t, "caddyfile", "#cloudfront-plain")
	h := newHandler(t, strings.ReplaceAll(b.body, "/etc/caddy/cloudfront.pem", "signers/cloudfront/testdata/cloudfront-rsa-pkcs1.pem"))
	a := serve(t, h, "GET", "/video/intro.mp4")
	loc := a.Header.Get("Location")
	shape := regexp.MustCompile(`^https://d111111abcdef8\.cloudfront\.net/media/intro\.mp4\?Expires=(\d+)&Signature=[^&]+&Key-Pair-Id=K2JCJMDEHXQW5F$`)
	m := shape.FindStringSubmatch(loc)
	if a.Code != http.StatusFound || m == nil {
		t.Fatalf("GET /video/intro.mp4: %d %s, want 302 to %s", a.Code, loc, shape)
	}
	if exp, _ := strconv.ParseInt(m[1], 10, 64); time.Until(time.Unix(exp, 0)) > time.Hour || time.Until(time.Unix(exp, 0)) < time.Hour-time.Minute {
		t.Errorf("Expires=%s is not an hour from now", m[1])
	}
	pub, err := cfverify.LoadPublicKey("signers/cloudfront/testdata/cloudfront-rsa-public.pem")
	if err != nil {
		t.Fatal(err)
	}
	v := cfverify.Verifier{KeyID: "K2JCJMDEHXQW5F", Pub: pub}
	if _, err := v.Check(cfverify.Request{URL: loc, Time: time.Now()}); err != nil {
		t.Errorf("CloudFront would refuse %s: %v", loc, err)
	}
	if _, err := v.Check(cfverify.Request{URL: strings.Replace(loc, "intro.mp4", "intro.mp3", 1), Time: time.Now()}); err == nil {
		t.Errorf("CloudFront would accept the URL for another object")
	}
}
