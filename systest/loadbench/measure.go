// What a run measures: wrk's requests, Caddy's CPU time from /proc, the
// machine's load, and the statistics of the runs.

package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var benchLine = regexp.MustCompile(`BENCH requests=(\d+) bad=(\d+) errors=(\d+)`)

// listConns is the most wrk connections of a listing run.
const listConns = 2

var rpsLine = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)

// wrk runs wrk against one route of p for d and returns the run with
// Caddy's CPU time over it.
func (c *config) wrk(p *caddyProc, prefix, mode string, d time.Duration) (run, error) {
	r := run{load1: loadavg1()}
	url := fmt.Sprintf("http://127.0.0.1:%d/", p.ports[prefix])
	conns, threads := c.conns, c.threads
	if mode == "json" || mode == "html" {
		// listings take milliseconds each: the work of the requests still
		// in flight when wrk stops is in Caddy's CPU time but not in the
		// requests served, so few connections keep it small against them
		conns = min(conns, listConns)
		threads = min(threads, conns)
	}
	cmd := exec.Command("wrk", "-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns),
		"-d", fmt.Sprintf("%ds", max(1, int(d.Round(time.Second)/time.Second))), "--timeout", "5s",
		"-s", filepath.Join(c.repo, "bench", "paths.lua"), url, "--", prefix, mode, p.targets[prefix])
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	before, err := cpuTime(p.Pid(), c.clkTck)
	if err != nil {
		return r, err
	}
	signs := c.signs()
	if err := cmd.Start(); err != nil {
		return r, err
	}
	timer := time.AfterFunc(d+30*time.Second, func() { _ = cmd.Process.Kill() }) // exited already: Wait has returned
	err = cmd.Wait()
	timer.Stop()
	after, cerr := cpuTime(p.Pid(), c.clkTck)
	r.signs = c.signs() - signs
	if err != nil {
		return r, fmt.Errorf("wrk: %v\n%s", err, out.String())
	}
	if cerr != nil {
		return r, cerr
	}
	m := benchLine.FindSubmatch(out.Bytes())
	if m == nil {
		return r, fmt.Errorf("no BENCH line in wrk's output:\n%s", out.String())
	}
	r.requests, _ = strconv.ParseInt(string(m[1]), 10, 64)
	r.bad, _ = strconv.ParseInt(string(m[2]), 10, 64)
	r.errors, _ = strconv.ParseInt(string(m[3]), 10, 64)
	if m := rpsLine.FindSubmatch(out.Bytes()); m != nil {
		r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	}
	r.cpu = after - before
	return r, nil
}

// cpuTime is the CPU time (user + system) process pid has used, all its
// threads, from /proc/PID/stat.
func cpuTime(pid int, clkTck float64) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// the command name is in parentheses and may hold spaces: fields
	// start after the last ')'; utime and stime are fields 14 and 15
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc/PID/stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("malformed /proc/PID/stat")
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("malformed /proc/PID/stat")
	}
	return time.Duration((ut + st) / clkTck * float64(time.Second)), nil
}

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat times.
func clockTicks() float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if v, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64); err == nil && v > 0 {
			return v
		}
	}
	return 100
}

func loadavgString() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ") + " (1, 5, 15 min)"
}

func loadavg1() float64 {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// waitForLoad waits, at most for d, until the 1-minute load average is
// under max.
func waitForLoad(max float64, d time.Duration) {
	deadline := time.Now().Add(d)
	for l := loadavg1(); l >= max; l = loadavg1() {
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "loadbench: load average still %.2f after %s; measuring anyway\n", l, d)
			return
		}
		fmt.Fprintf(os.Stderr, "loadbench: load average %.2f ≥ %.2f; waiting\n", l, max)
		time.Sleep(10 * time.Second)
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// pooledCost is the cost per request over all runs together.
func pooledCost(runs []run) time.Duration {
	var cpu time.Duration
	var n int64
	for _, r := range runs {
		cpu += r.cpu
		n += r.requests
	}
	if n == 0 {
		return 0
	}
	return cpu / time.Duration(n)
}

func meanRPS(runs []run) float64 {
	var s float64
	for _, r := range runs {
		s += r.rps
	}
	return s / float64(max(1, len(runs)))
}

func meanDuration(v []time.Duration) time.Duration {
	var s time.Duration
	for _, d := range v {
		s += d
	}
	return s / time.Duration(max(1, len(v)))
}

// remoteCalls is the kms:Sign calls of s's presign runs, in all and per
// request: "—" for routes that sign locally.
func remoteCalls(s scenario, presign []run) string {
	if !kmsRoute(s.prefix) {
		return "—"
	}
	var signs, n int64
	for _, r := range presign {
		signs += r.signs
		n += r.requests
	}
	return fmt.Sprintf("%d (%.3g)", signs, float64(signs)/float64(max(1, n)))
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
