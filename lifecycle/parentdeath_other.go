//go:build !linux

package lifecycle

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// rearmParentDeath has no portable form (FreeBSD's procctl is not in
// golang.org/x/sys/unix): SysProcAttr.Pdeathsig, which Go sets between fork
// and exec on FreeBSD too, must do, and armParentDeath's check of the
// parent still runs. Only a set-user-ID server binary loses the signal.
func rearmParentDeath() error { return nil }

// closeInheritedOnExec marks every descriptor from 3 on close-on-exec, up
// to the descriptor limit (at most 65,536): see the Linux version for why.
func closeInheritedOnExec() {
	var lim syscall.Rlimit
	top := uint64(1024)
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		top = min(uint64(lim.Cur), 1<<16)
	}
	for fd := 3; uint64(fd) < top; fd++ {
		unix.CloseOnExec(fd)
	}
}
