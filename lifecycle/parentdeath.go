package lifecycle

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// supervisorEnv tells a server process the pid of the supervisor it
// belongs to, so that it can tell whether that supervisor is still there.
const supervisorEnv = "DORRIT_LIFECYCLE_SUPERVISOR"

// startTied starts a server process that gets SIGTERM, and so drains and
// exits, when its supervisor dies for whatever reason, kill -9 included.
// Without this an orphaned server keeps serving as a child of init, the
// socket keeps answering, and a new start is refused until someone finds
// the orphan with ps.
//
// Linux sends the parent-death signal when the parent *thread* ends, not
// the process, and the Go runtime ends a thread whose goroutine exits while
// locked to it. So the process is started and waited for by one goroutine
// locked to its thread for the whole life of the process: no other
// goroutine can run on that thread, lock it and end it. Go's fork child
// checks right after setting the signal that its parent has not died
// meanwhile, and the server process checks again after exec
// (armParentDeath), which covers a set-user-ID binary, whose exec clears
// the setting.
//
// start starts cmd (cmd.Start, or the executable's own way); exited runs
// on that goroutine once the process has been waited for.
func startTied(cmd *exec.Cmd, start func() error, exited func()) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGTERM
	closeInheritedOnExec()
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(slices.DeleteFunc(slices.Clone(cmd.Env), func(e string) bool {
		return strings.HasPrefix(e, supervisorEnv+"=")
	}), supervisorEnv+"="+strconv.Itoa(os.Getpid()))

	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := start(); err != nil {
			started <- err
			return
		}
		started <- nil
		cmd.Wait()
		exited()
	}()
	return <-started
}

// armParentDeath runs first in a server process: it asks again for SIGTERM
// when the supervisor dies and then checks that the supervisor is still
// its parent, so that a supervisor that died before this point is noticed
// too.
func armParentDeath() error {
	want, err := strconv.Atoi(os.Getenv(supervisorEnv))
	if err != nil {
		return nil // not started by a supervisor of this package
	}
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGTERM), 0, 0, 0); err != nil {
		return fmt.Errorf("cannot ask for a signal on the supervisor's death: %v", err)
	}
	if ppid := os.Getppid(); ppid != want {
		return fmt.Errorf("supervisor %d is gone (parent is now %d): not serving without it", want, ppid)
	}
	return nil
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
