package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Upgrade starts the binary now on disk as a new process that inherits
// every socket of the Upgrader and its pidfile, and waits until it calls
// Ready (see Upgrader for the whole hand-over). It returns nil when the
// new process is ready: Upgraded is closed, and this process stops
// accepting, calls Release and drains. Any other outcome leaves this
// process serving as before and says what went wrong: the new process
// ended (its exit status; its own messages went to the same stderr), or
// was not ready within 30 s or before ctx ended (it is killed then).
//
// Under systemd, Upgrade sends RELOADING=1 (Type=notify-reload), and on
// success hands the service's main PID to the new process with
// MAINPID= and READY=1; on failure READY=1 says that this one serves on.
// One Upgrade runs at a time; after a successful one, or after Stop,
// Upgrade fails; Stop during an Upgrade ends it (the new process is
// killed), so that a stop is not undone by a process that goes on. A process an Upgrade started can upgrade once it is
// Ready.
func (u *Upgrader) Upgrade(ctx context.Context) error {
	u.upgrading.Lock()
	defer u.upgrading.Unlock()
	u.mu.Lock()
	switch {
	case u.stopped:
		u.mu.Unlock()
		return errors.New("lifecycle: Upgrader stopped: no upgrade while stopping")
	case u.childPID != 0:
		u.mu.Unlock()
		return fmt.Errorf("lifecycle: already upgraded: process %d took over and this one winds down", u.childPID)
	case u.parent != nil && !u.ready:
		u.mu.Unlock()
		return errors.New("lifecycle: not ready yet: upgrade once Ready has returned")
	}
	files := make([]*os.File, 0, len(u.passed)+1)
	h := handover{Control: 3}
	for _, pl := range u.passed {
		h.Files = append(h.Files, handedFile{FD: 4 + len(files), Kind: "listener", Network: pl.network, Addr: pl.addr, Systemd: pl.systemd})
		files = append(files, pl.f)
	}
	if u.pidfile != nil {
		h.Files = append(h.Files, handedFile{FD: 4 + len(files), Kind: "pidfile", Addr: u.pidfile.p.path})
		files = append(files, u.pidfile.p.f)
	}
	u.mu.Unlock()

	Notify("RELOADING=1")
	pid, control, err := startUpgrade(ctx, u.stopping, h, files)
	if err != nil {
		select {
		case <-u.stopping:
		default:
			Notify("READY=1") // this one serves on
		}
		return err
	}
	u.mu.Lock()
	u.child, u.childPID = control, pid
	if u.pidfile != nil {
		u.pidfile.mu.Lock()
		u.pidfile.handedOver = true
		u.pidfile.mu.Unlock()
	}
	u.mu.Unlock()
	Notify(fmt.Sprintf("MAINPID=%d\nREADY=1", pid))
	close(u.upgraded)
	return nil
}

// startUpgrade starts the new process with files from descriptor 4 on and
// its end of a control socket on 3, and waits for its READY. It returns
// the new process's pid and this process's end of the control socket.
func startUpgrade(ctx context.Context, stopping <-chan struct{}, h handover, files []*os.File) (int, *os.File, error) {
	path, err := os.Executable()
	if err != nil {
		return 0, nil, fmt.Errorf("upgrade: cannot find my own executable: %w", err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, nil, fmt.Errorf("upgrade: %w", err)
	}
	mine, theirs := os.NewFile(uintptr(fds[0]), "upgrade control"), os.NewFile(uintptr(fds[1]), "upgrade control")
	defer theirs.Close()
	enc, _ := json.Marshal(h)
	env := make([]string, 0, len(os.Environ())+1)
	for _, e := range os.Environ() {
		// WATCHDOG_PID names this process: left as it is, the new one
		// would take systemd's watchdog for another's and never ping it
		// once it is the main PID.
		if !strings.HasPrefix(e, upgradeEnv+"=") && !strings.HasPrefix(e, "WATCHDOG_PID=") {
			env = append(env, e)
		}
	}
	cmd := &exec.Cmd{
		Args:       os.Args,
		Env:        append(env, upgradeEnv+"="+string(enc)),
		Stdin:      os.Stdin,
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		ExtraFiles: append([]*os.File{theirs}, files...),
	}
	// Opened now, so that the upgrade runs the binary on disk now, and
	// executed through its descriptor where it can be (exec.go).
	exe := openExecutable(path)
	defer exe.close()
	if err := exe.start(cmd); err != nil {
		mine.Close()
		if errors.Is(err, os.ErrPermission) {
			return 0, nil, fmt.Errorf("upgrade: cannot run %s as uid %d gid %d: %w (the account this process runs as must be able to execute the binary and reach its directory: install it in /usr/local/bin or similar, mode 0755)", path, os.Getuid(), os.Getgid(), err)
		}
		return 0, nil, fmt.Errorf("upgrade: cannot start %s: %w", path, err)
	}
	theirs.Close()
	pid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }() // reaped, whatever comes

	word := make(chan string, 1)
	go func() {
		line, _ := readLine(mine)
		word <- line
	}()
	limit := time.NewTimer(readyWait)
	defer limit.Stop()
	fail := func(why string) (int, *os.File, error) {
		mine.Close()
		cmd.Process.Kill()
		<-exited
		return 0, nil, fmt.Errorf("upgrade: the new process (pid %d) %s; killed it: the old one serves on", pid, why)
	}
	select {
	case w := <-word:
		if w == readyWord {
			return pid, mine, nil
		}
		<-exited
		mine.Close()
		return 0, nil, fmt.Errorf("upgrade: the new process (pid %d) ended before it was ready (%s; its messages are on the same stderr): the old one serves on", pid, exitDescription(cmd.ProcessState))
	case <-limit.C:
		return fail(fmt.Sprintf("was not ready within %v", readyWait))
	case <-ctx.Done():
		return fail(fmt.Sprintf("was not ready when the upgrade was given up (%v)", context.Cause(ctx)))
	case <-stopping:
		return fail("was not ready when this process began to stop")
	}
}

func exitDescription(st *os.ProcessState) string {
	if st == nil {
		return "still running"
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "killed by " + ws.Signal().String()
	}
	return fmt.Sprintf("exit status %d", st.ExitCode())
}
