// Package harness is the one test harness of caddy-presign's system tests:
// it finds the external tools they need (versitygw, chromium, wrk, the
// system python3 with botocore), enforces the project rule that a missing
// tool skips a test locally but fails it in CI, hands out free loopback
// ports, builds Caddy with the module once per test binary, runs it (as a
// process, or in the test binary with caddy.Load), starts throw-away S3
// servers (versitygw), Azure blob services (Azurite) and an in-memory Cloud
// Storage of its own (GCSServer, gcsserver.go), and holds the HTTP client helpers and the Chromium
// options the tests share.
package harness

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// ModulePath is the module whose root RepoRoot looks for: the module under
// test, not this nested one.
const ModulePath = "github.com/caddy-presign/presign"

// InstallCommand is the command, run from the repository root, that installs
// every tool the tests need.
const InstallCommand = "./scripts/tools.sh"

// SystemPython is the interpreter the independent checkers run as
// `SystemPython -I`: Debian's python3, where python3-botocore and
// python3-boto3 are installed (the python3 on PATH may be another one).
const SystemPython = "/usr/bin/python3"

// repoRoot is findRoot's answer, found once.
var repoRoot = sync.OnceValues(findRoot)

// RepoRoot returns the absolute path of the repository root: the nearest
// directory, from the working directory upwards, whose go.mod declares
// ModulePath. It panics if there is none (tests always run inside the repo).
func RepoRoot() string {
	dir, err := repoRoot()
	if err != nil {
		panic("harness: " + err.Error())
	}
	return dir
}

// RepoPath is the absolute path of a file of the repository, given by its
// slash-separated path from the root (e.g. "signers/cloudfront/testdata/x.pem").
func RepoPath(rel string) string {
	return filepath.Join(RepoRoot(), filepath.FromSlash(rel))
}

func findRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for {
			if isModuleRoot(dir) {
				return dir, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", fmt.Errorf("cannot find the root of module %s from %v", ModulePath, starts)
}

func isModuleRoot(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`) == ModulePath
		}
	}
	return false
}

// ToolsBin returns <repo>/.tools/bin, where scripts/tools.sh installs the Go
// tools (versitygw, xcaddy).
func ToolsBin() string {
	return filepath.Join(RepoRoot(), ".tools", "bin")
}

// InCI reports whether the tests run in CI (CI=true), where nothing may skip.
func InCI() bool {
	return os.Getenv("CI") == "true"
}

// Missing reports a missing prerequisite: in CI it fails the test with
// t.Fatalf, otherwise it skips it with t.Skipf. The message always names
// the install command. It is the only way a test of this project may skip.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...) + "; install it with: " + InstallCommand + " (from " + rootForMessage() + ")"
	if InCI() {
		t.Fatalf("harness: missing prerequisite in CI (CI=true): %s", msg)
		return
	}
	t.Skipf("harness: skipping, missing prerequisite: %s", msg)
}

func rootForMessage() string {
	dir, err := repoRoot()
	if err != nil {
		return "the repository root"
	}
	return dir
}

// LookTool returns the absolute path of the executable name, looked up first
// in ToolsBin() and then in PATH. name may also be a path (for example
// "/usr/bin/chromium"), which is used as it is if it is an executable file.
// A missing tool is reported through Missing (Fatal in CI, Skip otherwise).
func LookTool(t testing.TB, name string) string {
	t.Helper()
	if strings.ContainsRune(name, os.PathSeparator) {
		if isExecutable(name) {
			abs, err := filepath.Abs(name)
			if err == nil {
				return abs
			}
			return name
		}
		Missing(t, "required tool %s not found or not executable", name)
		return ""
	}
	if p := filepath.Join(ToolsBin(), name); isExecutable(p) {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
		return p
	}
	Missing(t, "required tool %q not found in %s nor in PATH", name, ToolsBin())
	return ""
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

var (
	pythonMu   sync.Mutex
	pythonErrs = map[string]error{}
)

// Python returns SystemPython ("/usr/bin/python3") after checking that
// `/usr/bin/python3 -I -c 'import botocore, boto3'` works, and that it can
// import the given modules too. Run it with -I. If it cannot, the test is
// failed in CI and skipped elsewhere (Missing).
func Python(t testing.TB, modules ...string) string {
	t.Helper()
	imports := strings.Join(append([]string{"botocore", "boto3"}, modules...), ", ")
	pythonMu.Lock()
	err, checked := pythonErrs[imports]
	if !checked {
		err = checkPython(imports)
		pythonErrs[imports] = err
	}
	pythonMu.Unlock()
	if err != nil {
		Missing(t, "%v", err)
		return ""
	}
	return SystemPython
}

func checkPython(imports string) error {
	if !isExecutable(SystemPython) {
		return fmt.Errorf("%s does not exist (Debian packages python3, python3-botocore, python3-boto3)", SystemPython)
	}
	cmd := exec.Command(SystemPython, "-I", "-c", "import "+imports)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("`%s -I -c 'import %s'` failed (%v: %s); the Debian packages python3-botocore and python3-boto3 (and python3-cryptography) provide them",
			SystemPython, imports, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Port is FreePort for a test: an error fails it.
func Port(t testing.TB) int {
	t.Helper()
	port, err := FreePort()
	if err != nil {
		t.Fatalf("harness: free port: %v", err)
	}
	return port
}
