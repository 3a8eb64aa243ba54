package main

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// isTerminal reports whether r is a terminal: a file the terminal driver
// answers for. A character device is not enough (/dev/null is one, and
// so is the input of a program started by cron or by systemd with
// StandardInput=null).
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	// Through the raw descriptor: f.Fd() would put f in blocking mode.
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	var ioctlErr error
	if err := rc.Control(func(fd uintptr) {
		_, ioctlErr = unix.IoctlGetTermios(int(fd), getTermios)
	}); err != nil {
		return false
	}
	return ioctlErr == nil
}
