// Package procgroup starts a child process as the leader of a process
// group of its own, tied to this process: the whole group is killed by
// Kill, and also when this process dies without calling it (SIGKILL, a
// test binary's -timeout panic, Ctrl-C), so that no child, and none of the
// processes the child started in its group, outlives the program that
// started it.
//
// Two mechanisms, because either alone leaves a gap: on Linux the leader
// gets SIGKILL from the kernel when this process dies (Pdeathsig), which
// does not reach its own children (nginx's workers, a supervisor's server
// processes); and a watchdog, a small sh started beside it, kills the
// whole group once the pipe this process holds open to it reaches end of
// file, which the kernel does when this process dies, however it dies.
package procgroup

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// A Group is a started child and its process group.
type Group struct {
	// Cmd is the started command. Its Wait is called by the Group: read
	// Cmd.ProcessState once Done is closed.
	Cmd *exec.Cmd

	done  chan struct{}
	err   error // Cmd.Wait's, once done is closed
	watch *Watchdog

	killOnce sync.Once
}

// watchdog waits for end of file on its standard input, then kills the
// process group $1. It ignores the signals a terminal or a test runner
// sends to a whole foreground group, and runs in a group of its own.
const watchdog = `trap '' INT TERM HUP QUIT; read _; kill -s KILL -- "-$1" 2>/dev/null`

// Start starts cmd as the leader of a new process group tied to this
// process. cmd.SysProcAttr may be set, without Setsid (a daemon's session
// is Watch's case); Setpgid is forced (and, on Linux, Pdeathsig to
// SIGKILL). Do not call cmd.Wait: the Group does.
func Start(cmd *exec.Cmd) (*Group, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	if cmd.SysProcAttr.Setsid {
		return nil, errors.New("procgroup: Start with SysProcAttr.Setsid: a session leader cannot join a new group; start it yourself and Watch its group")
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pgid = 0
	setParentDeathSignal(cmd.SysProcAttr)

	g := &Group{Cmd: cmd, done: make(chan struct{})}
	// The kernel sends the parent-death signal when the thread that
	// forked the child ends, not the process, and Go ends a thread whose
	// goroutine exits while locked to it: so the child is started and
	// waited for by one goroutine that keeps its thread locked throughout,
	// which no other goroutine can lock and end.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		g.err = cmd.Wait()
		close(g.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	w, err := Watch(cmd.Process.Pid)
	if err != nil {
		g.Kill()
		return nil, fmt.Errorf("procgroup: cannot start the watchdog of %s: %w", cmd.Path, err)
	}
	g.watch = w
	return g, nil
}

// A Watchdog kills a process group when this process dies.
type Watchdog struct {
	cmd *exec.Cmd
	tie *os.File // the watchdog's pipe: its end of file is this process's death
}

// Watch ties the existing process group pgid to this process (a daemon's,
// which left the group of the process that started it): the group is
// killed when this process dies, until Stop.
func Watch(pgid int) (*Watchdog, error) {
	if pgid <= 1 {
		return nil, fmt.Errorf("procgroup: %d is not a process group to watch", pgid)
	}
	r, w, err := os.Pipe() // close-on-exec: no other child inherits w
	if err != nil {
		return nil, err
	}
	defer r.Close()
	cmd := exec.Command("/bin/sh", "-c", watchdog, "sh", fmt.Sprint(pgid))
	cmd.Stdin = r
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, err
	}
	return &Watchdog{cmd: cmd, tie: w}, nil
}

// Stop ends the watch without killing the group.
func (w *Watchdog) Stop() {
	w.cmd.Process.Kill()
	w.cmd.Wait()
	w.tie.Close()
}

// Pid is the leader's process ID, which is also the group's ID.
func (g *Group) Pid() int { return g.Cmd.Process.Pid }

// Done is closed once the leader has exited and been waited for; other
// processes of its group may still run.
func (g *Group) Done() <-chan struct{} { return g.done }

// Err is what Cmd.Wait returned (nil for exit status 0, an *exec.ExitError
// otherwise); call it once Done is closed.
func (g *Group) Err() error {
	<-g.done
	return g.err
}

// Signal sends sig to the leader alone.
func (g *Group) Signal(sig os.Signal) error { return g.Cmd.Process.Signal(sig) }

// Kill kills every process of the group with SIGKILL and waits for the
// leader. It may be called more than once, and after the leader exited.
func (g *Group) Kill() {
	g.killOnce.Do(func() {
		// The watchdog first: once the group is gone its ID may be
		// taken by another group, which a late watchdog would kill.
		if g.watch != nil {
			g.watch.Stop()
		}
		err := syscall.Kill(-g.Pid(), syscall.SIGKILL)
		if err != nil && !errors.Is(err, syscall.ESRCH) {
			g.Cmd.Process.Kill()
		}
		<-g.done
	})
}
