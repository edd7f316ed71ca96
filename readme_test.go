package presign

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-presign/presign/signers"
)

// TestREADMEExamples: the README's JSON example and every complete
// Caddyfile example (a site, a presign block, a profile; the ones with "…"
// elisions are fragments) pass `caddy validate`, so the manual cannot drift
// from the code.
func TestREADMEExamples(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := strings.ReplaceAll(string(b), "/etc/caddy/cloudfront-private.pem", "signers/cloudfront/testdata/cloudfront-rsa-pkcs1.pem")
	readme = strings.ReplaceAll(readme, "/etc/caddy/cloudfront.pem", "signers/cloudfront/testdata/cloudfront-rsa-pkcs1.pem")
	readme = strings.ReplaceAll(readme, "<ACCOUNT_ID>", "0123456789abcdef")
	for _, k := range []string{"SPACES_KEY", "SPACES_SECRET", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY",
		"R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY", "GCS_HMAC_ID", "GCS_HMAC_SECRET", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		t.Setenv(k, "example-"+strings.ToLower(k))
	}
	// the local kind's secrets: 32 bytes or more
	readme = strings.ReplaceAll(readme, "{file./run/secrets/link-k2}", "{env.LINK_KEY_K2}")
	for _, k := range []string{"LINK_KEY_K1", "LINK_KEY_K2"} {
		t.Setenv(k, "example-"+strings.ToLower(k)+"-0123456789abcdef0123456789")
	}

	checked := 0
	for _, m := range regexp.MustCompile("(?s)```caddyfile\n(.*?)```").FindAllStringSubmatch(readme, -1) {
		block := m[1]
		if strings.Contains(block, "…") || strings.Contains(block, "<name>") {
			continue // a fragment, or the syntax reference
		}
		first := strings.Fields(block)
		var site string
		switch {
		case first[0] == "presign":
			site = ":8080 {\n" + block + "}\n"
		case first[0] == "profile" && len(first) > 2 && first[2] == "s3":
			site = ":8080 {\npresign {\n" + block + "rule /x/* {\nprofile " + first[1] + "\n}\n}\n}\n"
		case strings.HasSuffix(first[0], ".com") || strings.HasPrefix(first[0], ":"):
			site = block
		default:
			continue // log filter, rule-only snippets
		}
		if err := validate(t, site); err != nil {
			t.Errorf("README example starting %q: %v", strings.SplitN(block, "\n", 2)[0], err)
		}
		checked++
	}
	if checked < 8 {
		t.Errorf("only %d Caddyfile examples checked; the README's examples moved?", checked)
	}

	i := strings.Index(readme, "## JSON config")
	m := regexp.MustCompile("(?s)```json\n(.*?)```").FindStringSubmatch(readme[i:])
	var handler map[string]any
	if err := json.Unmarshal([]byte(m[1]), &handler); err != nil {
		t.Fatalf("the README's JSON example: %v", err)
	}
	cfg, _ := json.Marshal(map[string]any{"apps": map[string]any{"http": map[string]any{"servers": map[string]any{
		"s": map[string]any{"listen": []string{":8080"}, "routes": []any{map[string]any{"handle": []any{handler}}}}}}}})
	var c caddy.Config
	if err := json.Unmarshal(cfg, &c); err != nil {
		t.Fatal(err)
	}
	if err := caddy.Validate(&c); err != nil {
		t.Errorf("the README's JSON example: %v", err)
	}
}

// TestDevelopmentKindSteps: the README's "Development" list of what a new
// kind touches holds for every registered kind: its module's type is in its
// own package signers/<kind>, whose doc.go has the package comment and
// whose <kind>.go declares it with signers.RegisterKind; it has its unit
// tests there, and a test there runs the conformance suite
// (signerstest.Run); the root's kinds.go imports it; it has its golden adapt file
// in testdata/, a profile example and a row in "What each kind supports"
// in the README; and the list names these steps in this order.
func TestDevelopmentKindSteps(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	dev := readme[strings.Index(readme, "## Development"):]
	last := -1
	for _, step := range []string{"1. `signers/<kind>/`", "signers.RegisterKind", "2. `signers/<kind>/<kind>_test.go`", "signerstest.Run",
		"3. `kinds.go`", "4. `testdata/<kind>.caddyfiletest`", "5. This README", "What each kind supports"} {
		i := strings.Index(dev, step)
		if i <= last {
			t.Errorf("the Development section does not name %q after the steps before it", step)
		}
		last = i
	}
	imports, err := os.ReadFile("kinds.go")
	if err != nil {
		t.Fatal(err)
	}

	mods := caddy.GetModules(signers.Namespace)
	if len(mods) < 4 {
		t.Fatalf("%d kinds registered", len(mods))
	}
	for _, m := range mods {
		kind := m.ID.Name()
		// The handler's tests register the conformance suite's recording
		// kind (signerstest.RegisterRecording): a test double that no
		// user's build holds, and so no kind these steps are for.
		if reflect.TypeOf(m.New()).Elem().PkgPath() == "github.com/caddy-presign/presign/signers/signerstest" {
			continue
		}
		pkg := "github.com/caddy-presign/presign/signers/" + kind
		if got := reflect.TypeOf(m.New()).Elem().PkgPath(); got != pkg {
			t.Errorf("kind %s: its module's type is in %s, not in %s", kind, got, pkg)
		}
		dir := filepath.Join("signers", kind)
		src, err := os.ReadFile(filepath.Join(dir, kind+".go"))
		if err != nil {
			t.Errorf("kind %s: %v", kind, err)
		} else if !strings.Contains(string(src), `signers.RegisterKind("`+kind+`"`) {
			t.Errorf("kind %s: %s/%s.go does not declare it with signers.RegisterKind", kind, dir, kind)
		}
		if doc, err := os.ReadFile(filepath.Join(dir, "doc.go")); err != nil || !strings.Contains(string(doc), "\npackage "+kind+"\n") ||
			!strings.HasPrefix(string(doc), "// Package "+kind+" ") {
			t.Errorf("kind %s: no package comment in %s/doc.go (%v)", kind, dir, err)
		}
		if _, err := os.Stat(filepath.Join(dir, kind+"_test.go")); err != nil {
			t.Errorf("kind %s: %v", kind, err)
		}
		if !runsSuite(t, dir) {
			t.Errorf("kind %s: no test in %s calls signerstest.Run: it does not run the conformance suite", kind, dir)
		}
		if !strings.Contains(string(imports), `_ "`+pkg+`"`) {
			t.Errorf("kind %s: kinds.go does not import it", kind)
		}
		golden, _ := filepath.Glob(filepath.Join("testdata", kind+"*.caddyfiletest"))
		if len(golden) == 0 {
			t.Errorf("kind %s: no testdata/%s.caddyfiletest", kind, kind)
		}
		if !regexp.MustCompile(`(?m)^\s*profile \S+ ` + kind + ` \{`).MatchString(readme) {
			t.Errorf("kind %s: the README has no profile example", kind)
		}
		if !strings.Contains(readme, "| `"+kind+"` |") {
			t.Errorf("kind %s: no row in the README's \"What each kind supports\"", kind)
		}
	}
}

// runsSuite tells whether a test file of the package in dir calls
// signerstest.Run.
func runsSuite(t *testing.T, dir string) bool {
	files, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
	for _, f := range files {
		file, err := parser.ParseFile(token.NewFileSet(), f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		ast.Inspect(file, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok {
				if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Run" {
					if id, ok := sel.X.(*ast.Ident); ok && id.Name == "signerstest" {
						found = true
					}
				}
			}
			return !found
		})
		if found {
			return true
		}
	}
	return false
}
