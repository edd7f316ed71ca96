package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// stream is go test -json's output for events given as
// (seconds after t0, action, package, test, output).
type ev struct {
	at                        float64
	action, pkg, test, output string
	elapsed                   float64
}

func stream(t *testing.T, evs ...ev) string {
	t.Helper()
	var b strings.Builder
	for _, e := range evs {
		line, err := json.Marshal(event{Time: t0.Add(time.Duration(e.at * float64(time.Second))), Action: e.action,
			Package: e.pkg, Test: e.test, Output: e.output, Elapsed: e.elapsed})
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String()
}

func run(t *testing.T, in string) (*report, string) {
	t.Helper()
	var out strings.Builder
	r := newReport(&out, "test:x", t0)
	if err := r.read(strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	r.finish(t0.Add(time.Hour))
	return r, out.String()
}

func TestReportCountsShowsFailuresAndSkips(t *testing.T) {
	const p = "example.com/m/p"
	r, out := run(t, "go: downloading example.com/dep v1.0.0\n"+stream(t,
		ev{at: 90, action: "start", pkg: p},
		ev{at: 90, action: "run", pkg: p, test: "TestOK"},
		ev{at: 90, action: "output", pkg: p, test: "TestOK", output: "=== RUN   TestOK\n"},
		ev{at: 90, action: "output", pkg: p, test: "TestOK", output: "    quiet line of a passing test\n"},
		ev{at: 91, action: "pass", pkg: p, test: "TestOK"},
		ev{at: 91, action: "run", pkg: p, test: "TestSkip"},
		ev{at: 91, action: "output", pkg: p, test: "TestSkip", output: "    x_test.go:9: harness: skipping, missing prerequisite: wrk\n"},
		ev{at: 91, action: "output", pkg: p, test: "TestSkip", output: "--- SKIP: TestSkip (0.00s)\n"},
		ev{at: 91, action: "skip", pkg: p, test: "TestSkip"},
		ev{at: 92, action: "run", pkg: p, test: "TestBad"},
		ev{at: 92, action: "output", pkg: p, test: "TestBad", output: "=== RUN   TestBad\n"},
		ev{at: 92, action: "run", pkg: p, test: "TestBad/good"},
		ev{at: 92, action: "output", pkg: p, test: "TestBad/good", output: "    good subtest's noise\n"},
		ev{at: 92, action: "pass", pkg: p, test: "TestBad/good"},
		ev{at: 92, action: "run", pkg: p, test: "TestBad/bad"},
		ev{at: 92, action: "output", pkg: p, test: "TestBad/bad", output: "    x_test.go:20: got 1, want 2\n"},
		ev{at: 92, action: "output", pkg: p, test: "TestBad/bad", output: "    --- FAIL: TestBad/bad (0.00s)\n"},
		ev{at: 92, action: "fail", pkg: p, test: "TestBad/bad"},
		ev{at: 93, action: "output", pkg: p, test: "TestBad", output: "--- FAIL: TestBad (1.00s)\n"},
		ev{at: 93, action: "fail", pkg: p, test: "TestBad", elapsed: 1},
		ev{at: 93, action: "output", pkg: p, output: "FAIL\n"},
		ev{at: 93, action: "fail", pkg: p, elapsed: 3.2},
		ev{at: 93, action: "start", pkg: p + "/q"},
		ev{at: 93, action: "output", pkg: p + "/q", output: "?   \texample.com/m/p/q\t[no test files]\n"},
		ev{at: 93, action: "skip", pkg: p + "/q"},
	))
	if got, want := r.totals(), (counts{Run: 5, Passed: 2, Failed: 2, Skipped: 1}); got != want {
		t.Errorf("counts %+v, want %+v", got, want)
	}
	if !r.failed() {
		t.Error("a failed test: the report does not fail")
	}
	for _, want := range []string{
		"go: downloading example.com/dep v1.0.0\n", // not JSON: as it came
		"SKIP TestSkip (example.com/m/p): x_test.go:9: harness: skipping, missing prerequisite: wrk\n",
		"=== the output of the failed TestBad (example.com/m/p):\n=== RUN   TestBad\n--- FAIL: TestBad (1.00s)\n    x_test.go:20: got 1, want 2\n    --- FAIL: TestBad/bad (0.00s)\n",
		"FAIL example.com/m/p 3.2s (2 passed, 2 failed, 1 skipped)\n",
		"test:x: 5 tests run (subtests included): 2 passed, 2 failed, 1 skipped; first test binary started after 1m30s\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
	for _, noise := range []string{"quiet line of a passing test", "good subtest's noise", "no test files"} {
		if strings.Contains(out, noise) {
			t.Errorf("the report shows %q, the output of what passed:\n%s", noise, out)
		}
	}
}

func TestReportBuildFailureCountsAsFailed(t *testing.T) {
	const p = "example.com/m/p"
	r, out := run(t, stream(t,
		ev{at: 5, action: "build-output", output: "# example.com/m/p\n"},
		ev{at: 5, action: "build-output", output: "p.go:3:1: syntax error\n"},
		ev{at: 5, action: "build-fail"},
		ev{at: 5, action: "start", pkg: p},
		ev{at: 5, action: "output", pkg: p, output: "FAIL\texample.com/m/p [build failed]\n"},
		ev{at: 5, action: "fail", pkg: p},
	))
	if got := r.totals(); got.Failed != 1 || got.Run != 0 {
		t.Errorf("counts %+v, want 1 failed, none run", got)
	}
	if !r.failed() {
		t.Error("a package that did not build: the report does not fail")
	}
	for _, want := range []string{"p.go:3:1: syntax error\n", "FAIL example.com/m/p: it did not build"} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
}

func TestReportPanicShowsUnfinishedTest(t *testing.T) {
	const p = "example.com/m/p"
	r, out := run(t, stream(t,
		ev{at: 1, action: "start", pkg: p},
		ev{at: 1, action: "run", pkg: p, test: "TestHangs"},
		ev{at: 1, action: "output", pkg: p, test: "TestHangs", output: "    h_test.go:7: waiting for the server\n"},
		ev{at: 61, action: "output", pkg: p, output: "panic: test timed out after 1m0s\n"},
		ev{at: 61, action: "fail", pkg: p},
	))
	if got := r.totals(); got.Failed != 1 {
		t.Errorf("counts %+v, want 1 failed", got)
	}
	for _, want := range []string{"--- unfinished: TestHangs\n    h_test.go:7: waiting for the server\n", "panic: test timed out after 1m0s\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
}

func TestReportProgress(t *testing.T) {
	const p = "example.com/m/p"
	var out strings.Builder
	r := newReport(&out, "test:systest", t0)
	r.progress(t0.Add(time.Minute))
	if err := r.read(strings.NewReader(stream(t,
		ev{at: 70, action: "start", pkg: p},
		ev{at: 70, action: "run", pkg: p, test: "TestSlow"},
		ev{at: 71, action: "run", pkg: p, test: "TestSlow/part"},
		ev{at: 80, action: "run", pkg: p, test: "TestParallel"},
		ev{at: 80, action: "pause", pkg: p, test: "TestParallel"},
		ev{at: 90, action: "run", pkg: p, test: "TestDone"},
		ev{at: 91, action: "pass", pkg: p, test: "TestDone"},
		ev{at: 100, action: "run", pkg: p, test: "TestFast"},
	))); err != nil {
		t.Fatal(err)
	}
	r.progress(t0.Add(2 * time.Minute))
	want := "... test:systest 1m0s: building the test binaries\n" +
		"... test:systest 2m0s: running TestSlow (example.com/m/p) for 50s, TestFast (example.com/m/p) for 20s\n"
	if out.String() != want {
		t.Errorf("progress lines:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestReportFuzzTimes(t *testing.T) {
	const p = "example.com/m"
	_, out := run(t, stream(t,
		ev{at: 200, action: "start", pkg: p},
		ev{at: 200, action: "run", pkg: p, test: "FuzzKeys"},
		ev{at: 201, action: "output", pkg: p, test: "FuzzKeys", output: "fuzz: elapsed: 0s, gathering baseline coverage: 0/40 completed\n"},
		ev{at: 209, action: "output", pkg: p, test: "FuzzKeys", output: "fuzz: elapsed: 8s, gathering baseline coverage: 40/40 completed, now fuzzing with 2 workers\n"},
		ev{at: 212, action: "output", pkg: p, test: "FuzzKeys", output: "fuzz: elapsed: 11s, execs: 3000 (1000/sec), new interesting: 0 (total: 40)\n"},
		ev{at: 239, action: "output", pkg: p, test: "FuzzKeys", output: "fuzz: elapsed: 38s, execs: 30000 (1000/sec), new interesting: 1 (total: 41)\n"},
		ev{at: 239, action: "pass", pkg: p, test: "FuzzKeys"},
		ev{at: 239, action: "pass", pkg: p, elapsed: 39},
	))
	want := "test:x: 1 tests run (subtests included): 1 passed, 0 failed, 0 skipped; first test binary started after 3m20s; " +
		"example.com/m: baseline coverage 11s, fuzzing 27s (fuzz: elapsed: 38s, execs: 30000 (1000/sec), new interesting: 1 (total: 41))\n"
	if !strings.HasSuffix(out, want) {
		t.Errorf("the report ends:\n%s\nwant:\n%s", out, want)
	}
}

func TestSummary(t *testing.T) {
	file := filepath.Join(t.TempDir(), "counts")
	for _, step := range []struct {
		mod, step string
		c         counts
	}{
		{".", "test:.", counts{Run: 300, Passed: 300}},
		{"systest", "test:systest", counts{Run: 120, Passed: 118, Skipped: 2}},
		{".", "fuzz:root.FuzzKeys", counts{Run: 1, Passed: 1}},
	} {
		if err := appendCounts(file, step.mod, step.step, step.c); err != nil {
			t.Fatal(err)
		}
	}
	var out strings.Builder
	failed, err := printSummary(&out, file)
	if err != nil || failed {
		t.Fatalf("printSummary: failed %v, %v", failed, err)
	}
	want := "module .: 301 tests run, 301 passed, 0 failed, 0 skipped (test:., fuzz:root.FuzzKeys)\n" +
		"module systest: 120 tests run, 118 passed, 0 failed, 2 skipped (test:systest)\n" +
		"419 passed, 0 failed, 2 skipped\n"
	if out.String() != want {
		t.Errorf("summary:\n%s\nwant:\n%s", out.String(), want)
	}

	// a check that failed outside the tests (test.sh writes its line)
	f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("systest vet:systest 0 0 1 0\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out.Reset()
	failed, err = printSummary(&out, file)
	if err != nil || !failed {
		t.Fatalf("printSummary after a failed check: failed %v, %v", failed, err)
	}
	if !strings.HasSuffix(out.String(), "\n419 passed, 1 failed, 2 skipped\n") {
		t.Errorf("summary after a failed check:\n%s", out.String())
	}
}
