package harness

import "syscall"

// sysProcAttr makes the kernel kill a child process if its parent dies
// without stopping it (for example on a go test -timeout panic).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
