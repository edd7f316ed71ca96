package harness

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Process is a child process (versitygw, Caddy) whose output goes to a log
// file and which the kernel kills if its parent dies without stopping it
// (for example on a go test -timeout panic).
type Process struct {
	// LogPath is the file that holds the process's stdout and stderr.
	LogPath string

	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
}

// ProcessSpec says how to start a Process.
type ProcessSpec struct {
	Path    string
	Args    []string
	Dir     string   // working directory ("" : this process's)
	Env     []string // the whole environment (nil : this process's)
	LogPath string   // where stdout and stderr go (created or truncated)
	// Ready, polled every 20 ms, says when the process serves. Start
	// fails if it does not within Timeout (default 20 s), or the process
	// exits first.
	Ready   func() bool
	Timeout time.Duration
}

// StartProcess starts the process and waits until it is ready. On error the
// process is gone and the error holds the end of its output.
func StartProcess(s ProcessSpec) (*Process, error) {
	logf, err := os.Create(s.LogPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own descriptor
	cmd := exec.Command(s.Path, s.Args...)
	cmd.Dir, cmd.Env = s.Dir, s.Env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", s.Path, err)
	}
	p := &Process{LogPath: s.LogPath, cmd: cmd, exited: make(chan struct{})}
	go func() { p.waitErr = cmd.Wait(); close(p.exited) }()

	timeout := s.Timeout
	if timeout == 0 {
		timeout = 20 * time.Second
	}
	deadline := time.Now().Add(timeout)
	for !s.Ready() {
		select {
		case <-p.exited:
			return nil, fmt.Errorf("%s exited at start (%v); its output:\n%s", s.Path, p.waitErr, p.Tail(4000))
		default:
		}
		if time.Now().After(deadline) {
			p.Stop(0)
			return nil, fmt.Errorf("%s did not get ready within %v; its output:\n%s", s.Path, timeout, p.Tail(4000))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p, nil
}

// Pid is the process ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Stop ends the process: an interrupt, then SIGKILL if it has not exited
// after grace (at once if grace is 0). It returns when the process is gone.
func (p *Process) Stop(grace time.Duration) {
	select {
	case <-p.exited:
		return
	default:
	}
	if grace > 0 {
		_ = p.cmd.Process.Signal(os.Interrupt) // one that has exited already: p.exited says so
		select {
		case <-p.exited:
			return
		case <-time.After(grace):
		}
	}
	_ = p.cmd.Process.Kill() // one that has exited already: p.exited says so
	<-p.exited
}

// Tail returns the last n bytes of the process's output.
func (p *Process) Tail(n int) string { return fileTail(p.LogPath, n) }

func fileTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) > n {
		b = append([]byte("..."), b[len(b)-n:]...)
	}
	return string(b)
}

// VmRSS is the resident set size of process pid, in bytes (VmRSS of
// /proc/PID/status).
func VmRSS(pid int) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			fs := strings.Fields(v)
			if len(fs) != 2 || fs[1] != "kB" {
				return 0, fmt.Errorf("VmRSS line %q", sc.Text())
			}
			kb, err := strconv.ParseInt(fs[0], 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS in /proc/" + strconv.Itoa(pid) + "/status")
}

// environ is this process's environment without the variables named by
// drop, plus add ("NAME=value").
func environ(drop func(name string) bool, add ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !drop(name) {
			env = append(env, kv)
		}
	}
	return append(env, add...)
}
