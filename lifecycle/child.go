package lifecycle

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// child is one server process.
type child struct {
	cmd     *exec.Cmd
	started time.Time
	done    chan struct{} // closed when the process has exited
	state   *os.ProcessState
}

// startServer runs the binary again as the server process with the socket
// on descriptor 3, as -u/-g from the first instruction on (the credentials
// are set between fork and exec, so no thread ever runs half-privileged),
// and waits until it accepts connections or fails.
func (sv *supervisor) startServer() (*child, error) {
	lf, err := listenerFile(sv.ul)
	if err != nil {
		return nil, err
	}
	defer lf.Close()
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer readyR.Close()
	path, err := os.Executable()
	if err != nil {
		readyW.Close()
		return nil, err
	}
	// Opened at each start, so that an upgrade runs the binary now on disk.
	exe := openExecutable(path)
	defer exe.close()
	// os.Args as they were, so that a main that dispatches on them reaches
	// Run again; the stage parses the args Run was given.
	cmd := &exec.Cmd{Args: append([]string{path}, os.Args[1:]...)}
	cmd.Env = stageEnviron(stageServe, sv.cfg.args)
	cmd.ExtraFiles = []*os.File{lf, readyW}
	cmd.Stdout = os.Stdout
	// A detached server's stderr is the supervisor's to log: a crash's
	// panic message must reach syslog. The pipe is the supervisor's own,
	// not exec's StderrPipe, which Wait closes as soon as the process
	// exits, cutting off the end of a crash report still in the pipe.
	var logged <-chan struct{}
	pid := make(chan int, 1)
	if sv.cfg.Foreground {
		cmd.Stderr = os.Stderr
	} else {
		r, w, err := os.Pipe()
		if err != nil {
			readyW.Close()
			return nil, err
		}
		defer w.Close() // the server process has its own copy
		cmd.Stderr = w
		logged = sv.logStderr(r, pid)
	}
	if sv.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{
			Uid: sv.cred.uid, Gid: sv.cred.gid, Groups: []uint32{},
		}}
	}
	beatW, err := sv.passBeatPipe(cmd)
	if err != nil {
		readyW.Close()
		return nil, err
	}
	if beatW != nil {
		defer beatW.Close() // the server process has its own copy
	}
	c := &child{cmd: cmd, started: time.Now(), done: make(chan struct{})}
	err = startTied(cmd, func() error { return exe.start(cmd) }, func() {
		if logged != nil {
			waitStderr(logged) // the crash report before the word of the crash
		}
		c.state = cmd.ProcessState
		close(c.done)
	})
	if err != nil {
		close(pid)
		readyW.Close()
		if errors.Is(err, os.ErrPermission) && sv.cred != nil {
			return nil, fmt.Errorf("cannot run %s as %s:%s: %v (the binary must be executable by that account, e.g. chmod a+x %[1]s)", path, sv.cred.user, sv.cred.group, err)
		}
		return nil, err
	}
	pid <- cmd.Process.Pid
	readyW.Close()

	ready := make(chan error, 1)
	go func() { ready <- readReport(readyR) }()
	select {
	case err := <-ready:
		if err == nil {
			return c, nil
		}
		<-c.done
		if !errors.Is(err, errNoReport) {
			return nil, err
		}
		return nil, fmt.Errorf("%w (%s)", errNotReady, c.describeExit())
	case <-time.After(readyWait):
		cmd.Process.Kill()
		<-c.done
		return nil, fmt.Errorf("server process not accepting after %v; killed", readyWait)
	}
}

// exitedCleanly reports exit status 0: the server decided to stop.
func (c *child) exitedCleanly() bool { return c.state != nil && c.state.Success() }

func (c *child) describeExit() string {
	if c.state == nil {
		return "still running"
	}
	if ws, ok := c.state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "killed by " + ws.Signal().String()
	}
	return fmt.Sprintf("exit status %d", c.state.ExitCode())
}

func withoutStage(env []string) []string {
	out := env[:0:0]
	for _, e := range env {
		if !strings.HasPrefix(e, stageEnv+"=") && !strings.HasPrefix(e, pidfileEnv+"=") {
			out = append(out, e)
		}
	}
	return out
}
