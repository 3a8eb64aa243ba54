package lifecycle

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
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
	if err := rearmParentDeath(); err != nil {
		return fmt.Errorf("cannot ask for a signal on the supervisor's death: %v", err)
	}
	if ppid := os.Getppid(); ppid != want {
		return fmt.Errorf("supervisor %d is gone (parent is now %d): not serving without it", want, ppid)
	}
	return nil
}
