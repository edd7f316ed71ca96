// Command testreport turns the output of `go test -json` into what a person
// watching ./test.sh needs, and counts the tests for its closing summary.
//
//	go test -json ./... 2>&1 | testreport -step test:. -module . -counts FILE
//
// It prints:
//   - a line per package when it ends: ok or FAIL, its time, and its
//     tests passed, failed and skipped;
//   - each skipped test with its reason, when it skips;
//   - the whole output of each failed test (and of a package that failed
//     outside any test: a build error, a panic, a timeout), as go test -v
//     would have shown it;
//   - every minute (-every), the tests running at that moment, or that the
//     test binaries are still being built;
//   - at the end, the step's counts, the time until the first test binary
//     started (the build, for a single package such as a fuzz target), and
//     for a fuzz target the time it spent gathering its baseline coverage
//     and the time it fuzzed.
//
// Lines that are not JSON (go's own messages on stderr) are printed as they
// come. With -counts it appends "module step run passed failed skipped" to
// FILE, where failed also counts each package that failed with no failed
// test. It exits 1 when a test or a package failed.
//
//	testreport -summary FILE
//
// prints, from such a file, the counts of each module and the closing line
// "N passed, N failed, N skipped", and exits 1 when any failed.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

func main() {
	step := flag.String("step", "go test", "the name of the step, at the start of the lines")
	module := flag.String("module", ".", "the module the tests belong to, for -counts")
	counts := flag.String("counts", "", "append the step's counts to this file")
	every := flag.Duration("every", time.Minute, "how often to say what is running")
	summary := flag.String("summary", "", "print the per-module summary of a counts file and exit")
	flag.Parse()

	if *summary != "" {
		failed, err := printSummary(os.Stdout, *summary)
		if err != nil {
			fmt.Fprintf(os.Stderr, "testreport: %v\n", err)
			os.Exit(2)
		}
		if failed {
			os.Exit(1)
		}
		return
	}

	r := newReport(os.Stdout, *step, time.Now())
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(*every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-tick.C:
				r.progress(now)
			}
		}
	}()
	err := r.read(os.Stdin)
	close(done)
	r.finish(time.Now())
	if err != nil {
		fmt.Fprintf(os.Stderr, "testreport: reading go test's output: %v\n", err)
		os.Exit(2)
	}
	if *counts != "" {
		if err := appendCounts(*counts, *module, *step, r.totals()); err != nil {
			fmt.Fprintf(os.Stderr, "testreport: %v\n", err)
			os.Exit(2)
		}
	}
	if r.failed() {
		os.Exit(1)
	}
}

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Time       time.Time
	Action     string
	Package    string
	ImportPath string // build-output, build-fail
	Test       string
	Elapsed    float64
	Output     string
}

// counts are tests (subtests included) by outcome.
type counts struct {
	Run, Passed, Failed, Skipped int
}

func (c counts) String() string {
	return fmt.Sprintf("%d passed, %d failed, %d skipped", c.Passed, c.Failed, c.Skipped)
}

type test struct {
	started       time.Time
	paused, ended bool
	output        []string
}

type pkg struct {
	name    string
	started time.Time
	output  []string // lines outside any test
	tests   map[string]*test
	counts  counts
	// fuzzing: when it began gathering its baseline coverage, and when it
	// went on to fuzz, and its last progress line
	baseline, fuzzing time.Time
	lastFuzz          string
}

type report struct {
	mu          sync.Mutex
	w           io.Writer
	step        string
	start       time.Time
	firstStart  time.Time // the first test binary's start
	pkgs        map[string]*pkg
	order       []string // packages in order of appearance
	badPkgs     int      // packages that failed with no failed test
	total       counts
	fuzz        []string // per fuzzed package: its phases' times
	buildFailed map[string]bool
}

func newReport(w io.Writer, step string, start time.Time) *report {
	return &report{w: w, step: step, start: start, pkgs: map[string]*pkg{}, buildFailed: map[string]bool{}}
}

func (r *report) printf(format string, args ...any) {
	fmt.Fprintf(r.w, format, args...)
}

func (r *report) pkg(name string) *pkg {
	p := r.pkgs[name]
	if p == nil {
		p = &pkg{name: name, tests: map[string]*test{}}
		r.pkgs[name] = p
		r.order = append(r.order, name)
	}
	return p
}

// read handles every line of in until its end.
func (r *report) read(in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &ev) != nil || ev.Action == "" {
			r.mu.Lock()
			r.printf("%s\n", line)
			r.mu.Unlock()
			continue
		}
		r.mu.Lock()
		r.handle(ev)
		r.mu.Unlock()
	}
	return sc.Err()
}

func (r *report) handle(ev event) {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	switch ev.Action {
	case "build-output":
		r.printf("%s", ev.Output)
		return
	case "build-fail":
		r.buildFailed[ev.ImportPath] = true
		return
	}
	p := r.pkg(ev.Package)
	if ev.Test == "" {
		r.handlePackage(ev, p)
		return
	}
	t := p.tests[ev.Test]
	if t == nil {
		t = &test{started: ev.Time}
		p.tests[ev.Test] = t
	}
	switch ev.Action {
	case "run":
		t.started = ev.Time
	case "pause":
		t.paused = true
	case "cont":
		t.paused = false
	case "output":
		t.output = append(t.output, ev.Output)
		r.fuzzOutput(p, ev)
	case "pass", "fail", "skip":
		r.end(p, ev, t)
	}
}

// fuzzOutput follows a fuzz target's progress lines:
// "fuzz: elapsed: 0s, gathering baseline coverage: 0/12 completed" and then
// "fuzz: elapsed: 3s, execs: 1234 (411/sec), new interesting: 0 (total: 12)".
func (r *report) fuzzOutput(p *pkg, ev event) {
	line := strings.TrimSpace(ev.Output)
	if !strings.HasPrefix(line, "fuzz: elapsed:") {
		return
	}
	if strings.Contains(line, "gathering baseline coverage") {
		if p.baseline.IsZero() {
			p.baseline = ev.Time
		}
		return
	}
	if p.fuzzing.IsZero() {
		p.fuzzing = ev.Time
	}
	p.lastFuzz = line
}

// end is a test's end: it is counted, and its output kept only when it
// failed (a failed subtest's until its parent ends, which fails too); a skip
// is told with its reason.
func (r *report) end(p *pkg, ev event, t *test) {
	c := &p.counts
	c.Run++
	t.ended = true
	switch ev.Action {
	case "pass":
		c.Passed++
	case "fail":
		c.Failed++
	case "skip":
		c.Skipped++
		r.printf("SKIP %s (%s): %s\n", ev.Test, short(ev.Package), skipReason(t.output))
	}
	if strings.Contains(ev.Test, "/") {
		if ev.Action != "fail" {
			t.output = nil
		}
		return
	}
	if ev.Action == "fail" {
		r.printf("=== the output of the failed %s (%s):\n%s", ev.Test, ev.Package, strings.Join(testOutput(p, ev.Test), ""))
	}
	for name := range p.tests {
		if name == ev.Test || strings.HasPrefix(name, ev.Test+"/") {
			delete(p.tests, name)
		}
	}
}

// testOutput is the output kept of a test and of its subtests, the test's
// first.
func testOutput(p *pkg, name string) []string {
	var out []string
	if t := p.tests[name]; t != nil {
		out = append(out, t.output...)
	}
	var subs []string
	for n := range p.tests {
		if strings.HasPrefix(n, name+"/") {
			subs = append(subs, n)
		}
	}
	sort.Strings(subs)
	for _, n := range subs {
		out = append(out, p.tests[n].output...)
	}
	return out
}

// skipReason is what a skipped test said last, without go test's own lines.
func skipReason(output []string) string {
	for i := len(output) - 1; i >= 0; i-- {
		line := strings.TrimSpace(output[i])
		if line == "" || strings.HasPrefix(line, "--- SKIP") || strings.HasPrefix(line, "=== ") {
			continue
		}
		return line
	}
	return "no reason given"
}

func (r *report) handlePackage(ev event, p *pkg) {
	switch ev.Action {
	case "start":
		p.started = ev.Time
		if r.firstStart.IsZero() {
			r.firstStart = ev.Time
		}
	case "output":
		p.output = append(p.output, ev.Output)
	case "skip": // no test files
	case "pass":
		r.printf("ok   %s %.1fs (%s)\n", ev.Package, ev.Elapsed, p.counts)
		r.endPackage(p, ev.Time)
	case "fail":
		r.printf("FAIL %s %.1fs (%s)\n", ev.Package, ev.Elapsed, p.counts)
		if p.counts.Failed == 0 {
			r.badPkgs++
			why := "it failed outside any test"
			if r.buildFailed[ev.Package] || strings.Contains(strings.Join(p.output, ""), "[build failed]") {
				why = "it did not build (the compiler's errors are above)"
			}
			r.printf("FAIL %s: %s; its output:\n", ev.Package, why)
			// tests still running when it ended (a panic, a timeout)
			for name, t := range p.tests {
				if !t.ended && !strings.Contains(name, "/") {
					r.printf("--- unfinished: %s\n%s", name, strings.Join(testOutput(p, name), ""))
				}
			}
			r.printf("%s", strings.Join(p.output, ""))
		}
		r.endPackage(p, ev.Time)
	}
}

func (r *report) endPackage(p *pkg, end time.Time) {
	r.total.Run += p.counts.Run
	r.total.Passed += p.counts.Passed
	r.total.Failed += p.counts.Failed
	r.total.Skipped += p.counts.Skipped
	if !p.fuzzing.IsZero() {
		base := p.started
		if !p.baseline.IsZero() {
			base = p.baseline
		}
		r.fuzz = append(r.fuzz, fmt.Sprintf("%s: baseline coverage %s, fuzzing %s (%s)", short(p.name),
			p.fuzzing.Sub(base).Round(time.Second), end.Sub(p.fuzzing).Round(time.Second), p.lastFuzz))
	}
	p.tests = map[string]*test{}
	p.output = nil
}

// progress says what runs at now: the tests that have started and not
// ended (not the paused parallel ones), longest first.
func (r *report) progress(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	type running struct {
		name string
		for_ time.Duration
	}
	var list []running
	for _, name := range r.order {
		p := r.pkgs[name]
		for tn, t := range p.tests {
			if t.paused || t.ended || strings.Contains(tn, "/") {
				continue
			}
			list = append(list, running{tn + " (" + short(name) + ")", now.Sub(t.started)})
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].for_ > list[j].for_ })
	var what string
	switch {
	case len(list) > 0:
		names := make([]string, 0, 3)
		for i, x := range list {
			if i == 3 {
				names = append(names, fmt.Sprintf("and %d more", len(list)-3))
				break
			}
			names = append(names, fmt.Sprintf("%s for %s", x.name, x.for_.Round(time.Second)))
		}
		what = "running " + strings.Join(names, ", ")
	case r.firstStart.IsZero():
		what = "building the test binaries"
	default:
		what = "building or starting the next test binary"
	}
	r.printf("... %s %s: %s\n", r.step, now.Sub(r.start).Round(time.Second), what)
}

// short is a package's last path element, or the whole path when short.
func short(pkg string) string {
	if i := strings.LastIndex(pkg, "/"); i >= 0 && len(pkg) > 40 {
		return pkg[i+1:]
	}
	return pkg
}

// finish prints the step's summary line.
func (r *report) finish(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// packages that never ended (go test killed): count them as failed
	for _, name := range r.order {
		p := r.pkgs[name]
		if len(p.tests) > 0 && !p.started.IsZero() {
			r.badPkgs++
			r.printf("FAIL %s: it ended without a result; its output:\n", name)
			for tn := range p.tests {
				r.printf("%s", strings.Join(testOutput(p, tn), ""))
			}
			r.printf("%s", strings.Join(p.output, ""))
			r.endPackage(p, now)
		}
	}
	line := fmt.Sprintf("%s: %d tests run (subtests included): %s", r.step, r.total.Run, r.total)
	if r.badPkgs > 0 {
		line += fmt.Sprintf("; %d packages failed outside their tests", r.badPkgs)
	}
	if !r.firstStart.IsZero() {
		line += fmt.Sprintf("; first test binary started after %s", r.firstStart.Sub(r.start).Round(time.Second))
	}
	for _, f := range r.fuzz {
		line += "; " + f
	}
	r.printf("%s\n", line)
}

func (r *report) failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total.Failed > 0 || r.badPkgs > 0 || len(r.buildFailed) > 0
}

// totals are the step's counts; a package that failed with no failed test
// counts as one failed.
func (r *report) totals() counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.total
	c.Failed += r.badPkgs
	if r.badPkgs == 0 && len(r.buildFailed) > 0 {
		c.Failed += len(r.buildFailed)
	}
	return c
}

func appendCounts(file, module, step string, c counts) error {
	f, err := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("the counts file: %w", err)
	}
	_, err = fmt.Fprintf(f, "%s %s %d %d %d %d\n", module, step, c.Run, c.Passed, c.Failed, c.Skipped)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("the counts file: %w", err)
	}
	return nil
}

// printSummary prints the counts of each module, in the order they first
// appear in file, and the closing line; it reports whether any failed.
func printSummary(w io.Writer, file string) (bool, error) {
	b, err := os.ReadFile(file)
	if err != nil && !os.IsNotExist(err) {
		return false, fmt.Errorf("the counts file: %w", err)
	}
	var order []string
	byModule := map[string]*counts{}
	steps := map[string][]string{}
	var all counts
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var mod, step string
		var c counts
		if _, err := fmt.Sscanf(line, "%s %s %d %d %d %d", &mod, &step, &c.Run, &c.Passed, &c.Failed, &c.Skipped); err != nil {
			return false, fmt.Errorf("the counts file, line %d %q: %v", i+1, line, err)
		}
		m := byModule[mod]
		if m == nil {
			m = &counts{}
			byModule[mod] = m
			order = append(order, mod)
		}
		m.Run += c.Run
		m.Passed += c.Passed
		m.Failed += c.Failed
		m.Skipped += c.Skipped
		steps[mod] = append(steps[mod], step)
		all.Run += c.Run
		all.Passed += c.Passed
		all.Failed += c.Failed
		all.Skipped += c.Skipped
	}
	for _, mod := range order {
		m := byModule[mod]
		fmt.Fprintf(w, "module %s: %d tests run, %s (%s)\n", mod, m.Run, m, strings.Join(steps[mod], ", "))
	}
	fmt.Fprintf(w, "%s\n", all)
	return all.Failed > 0, nil
}
