package lifecycle

import (
	"math"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// rearmParentDeath asks again for SIGTERM when the parent dies: exec of a
// set-user-ID binary clears what SysProcAttr.Pdeathsig set.
func rearmParentDeath() error {
	return unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGTERM), 0, 0, 0)
}

// closeInheritedOnExec marks every descriptor from 3 on close-on-exec.
// Go opens its own that way, but descriptors this process inherited from
// whoever started it (a shell, a CI runner, rc.d, and the start process's
// hand-over) are not, and would reach every server process, which runs as
// another account. What a server process needs is passed on explicitly
// (ExtraFiles), and exec clears the mark on those.
func closeInheritedOnExec() {
	if unix.CloseRange(3, math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC) != nil {
		markOpenOnExec() // before Linux 5.11
	}
}

// markOpenOnExec does closeInheritedOnExec's work one descriptor at a time.
func markOpenOnExec() {
	ents, _ := os.ReadDir("/proc/self/fd")
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd >= 3 {
			unix.CloseOnExec(fd)
		}
	}
}
