package presign

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// TestDevelopmentKindSteps: docs/development.md's list of what a new
// kind touches holds for every registered kind: its module's type is in its
// own package signers/<kind>, whose doc.go has the package comment and
// whose <kind>.go declares it with signers.RegisterKind; it has its unit
// tests there, and a test there runs the conformance suite
// (signerstest.Run); the root's kinds.go imports it; it has its golden adapt file
// in testdata/, a profile example in docs/providers.md (its table in
// docs/caddyfile.md is TestDocsReference's) and a row in "What each kind
// supports" in the README; and the list names these steps in this order.
func TestDevelopmentKindSteps(t *testing.T) {
	readme, providers := readDoc(t, "README.md"), readDoc(t, "docs/providers.md")
	dev := readDoc(t, "docs/development.md")
	dev = dev[max(strings.Index(dev, "## A new profile kind"), 0):]
	last := -1
	for _, step := range []string{
		"1. `signers/<kind>/`", "signers.RegisterKind", "2. `signers/<kind>/<kind>_test.go`", "signerstest.Run",
		"3. `kinds.go`", "4. `testdata/<kind>.caddyfiletest`", "5. The docs", "providers.md", "caddyfile.md", "What each kind supports",
	} {
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

	mods := userKinds()
	if len(mods) < 4 {
		t.Fatalf("%d kinds registered", len(mods))
	}
	for _, m := range mods {
		kind := m.ID.Name()
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
		if !regexp.MustCompile(`(?m)^\s*profile \S+ ` + kind + ` \{`).MatchString(providers) {
			t.Errorf("kind %s: docs/providers.md has no profile example", kind)
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
