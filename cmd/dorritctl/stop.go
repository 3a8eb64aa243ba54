package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/dorritgo/dorrit/internal/control"
)

var stopCommand = &command{
	name:     "stop",
	synopsis: "NAME|--control PATH [--timeout D] [--force] [--piddir DIR | --pidfile FILE]",
	summary:  "stop a server gracefully: SIGTERM, then wait until it is gone",
	order:    14,
	details: `
Sends SIGTERM to the supervisor named in /var/run/NAME.pid and waits until
it is gone: every client gets its queued messages and a 1001 close, then
the socket, the control socket and the pidfile are removed. A drain that
takes a while is shown every 2 s (connections left).

  --timeout D   how long to wait (default: the server's drain time plus 10 s,
                20 s for lifecycle's defaults)
  --force       when the timeout passes, SIGKILL the supervisor and its server
                processes, and remove the files they leave behind; clients are
                cut off without a close
` + serviceFlagsHelp + `

Exit status: 0 stopped, or not running (as the LSB wants of stop); 1 still
running after the timeout, or under systemd (use systemctl stop); 4 not
allowed to signal it (run as root).`,
}

func init() {
	stopCommand.run = runStop
	register(stopCommand)
}

// progressEvery is how often a long stop says what it waits for.
const progressEvery = 2 * time.Second

func runStop(s *streams, args []string) int {
	c := stopCommand
	fs := newFlags(c)
	timeout := fs.Duration("timeout", 0, "")
	force := fs.Bool("force", false, "")
	sa, status := parseService(c, s, fs, args, noCommand)
	if sa == nil {
		return status
	}
	if *timeout < 0 {
		return c.usage(s, "--timeout %v must not be negative (0, or none, is the server's drain time plus 10 s)", *timeout)
	}
	ctx, stopSignals := serviceContext()
	defer stopSignals()
	svc := sa.locate(ctx, sa.name)
	code, msg := stopService(ctx, c, s, svc, *timeout, *force)
	if code != exitOK {
		return c.fail(s, code, "%s", msg)
	}
	fmt.Fprintln(s.stdout, msg)
	return exitOK
}

// stopService stops svc and says how it went, in one line, with the exit
// status. restart uses it too.
func stopService(ctx context.Context, c *command, s *streams, svc *service, timeout time.Duration, force bool) (int, string) {
	switch svc.state() {
	case stateStopped:
		return exitOK, fmt.Sprintf("%s is not running: nothing to stop", svc.name)
	case stateDead:
		removeStale(svc, nil)
		return exitOK, svc.deadText() + "; removed the stale pidfile"
	case stateUnknown:
		msg, code := svc.pidfileReadText()
		return code, msg
	}
	pid := svc.supervisorPID()
	if pid <= 1 { // kill(2) would take 0, -1 and 1 for whole sets of processes
		return exitFailure, fmt.Sprintf("%s: no supervisor PID to signal (pidfile %s, control socket %s)", svc.name, svc.pidfile, svc.control)
	}
	st := svc.status
	if st != nil && st.Mode == control.ModeSystemd {
		return exitFailure, fmt.Sprintf("%s runs under systemd (supervisor PID %d): systemctl stop %s (stopped behind its back, its service would end, or start again with Restart=always)", svc.name, pid, svc.name)
	}
	if timeout == 0 {
		timeout = 20 * time.Second
		if st != nil {
			timeout = time.Duration(st.DrainTimeoutMS)*time.Millisecond + 10*time.Second
		}
	}
	pids := []int{pid}
	if st != nil {
		for _, sp := range st.Servers {
			if sp.PID > 1 {
				pids = append(pids, sp.PID)
			}
		}
	}

	start := time.Now()
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		msg, code := signalFailure(svc.name, pid, syscall.SIGTERM, err)
		if code == exitNotRunning {
			return exitOK, msg
		}
		return code, msg
	}
	progress := func(waited time.Duration) {
		fmt.Fprintf(s.stderr, "dorritctl %s: %s (PID %d) is stopping: %s (%s of at most %s)\n",
			c.name, svc.name, pid, drainText(ctx, svc), roundDuration(waited), timeout)
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	gone := waitGone(wctx, []int{pid}, progressEvery, progress)
	cancel()
	if gone {
		return exitOK, fmt.Sprintf("%s stopped (supervisor PID %d, in %s)", svc.name, pid, roundDuration(time.Since(start)))
	}
	if ctx.Err() != nil {
		return exitFailure, fmt.Sprintf("interrupted: %s (PID %d) got SIGTERM and goes on stopping by itself", svc.name, pid)
	}
	if !force {
		return exitFailure, fmt.Sprintf("%s (PID %d) still runs %s after SIGTERM (%s): wait longer (--timeout), or dorritctl stop %s --force to SIGKILL it",
			svc.name, pid, timeout, drainText(ctx, svc), svc.name)
	}

	// The supervisor leads the process group its server processes are
	// in, so one kill reaches them all, and whatever they started.
	if leadsGroup(pid) {
		syscall.Kill(-pid, syscall.SIGKILL)
	}
	for _, p := range pids {
		syscall.Kill(p, syscall.SIGKILL)
	}
	kctx, kcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer kcancel()
	if !waitGone(kctx, pids, 0, nil) {
		return exitFailure, fmt.Sprintf("%s: PIDs %v survive SIGKILL (stuck in the kernel, e.g. on a dead NFS mount)", svc.name, pids)
	}
	removed := removeStale(svc, st)
	text := fmt.Sprintf("%s killed: SIGKILL after %s to PIDs %v", svc.name, timeout, pids)
	if len(removed) > 0 {
		text += "; removed " + strings.Join(removed, ", ")
	}
	return exitOK, text
}

// drainText says what a stopping server still has, from its control socket.
func drainText(ctx context.Context, svc *service) string {
	actx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	st, err := control.Ask(actx, svc.control, "status")
	if err != nil {
		return "its control socket does not answer, so the drain cannot be shown"
	}
	live, procs := liveIn(st)
	return fmt.Sprintf("%s left in %s", plural(live, "connection", "connections"), plural(int64(procs), "server process", "server processes"))
}

// removeStale removes what a supervisor that is gone left behind: its
// pidfile once nothing holds it, its control socket and public socket
// once nothing listens on them. It lists what it removed.
func removeStale(svc *service, st *control.Status) []string {
	var removed []string
	if svc.hasPid && !pidfileHeld(svc.pidfile) {
		if os.Remove(svc.pidfile) == nil {
			removed = append(removed, "the pidfile "+svc.pidfile)
		}
	}
	if removeDeadSocket(svc.control) {
		removed = append(removed, "the control socket "+svc.control)
	}
	if st != nil && !st.Socket.Systemd && removeDeadSocket(st.Socket.Path) {
		removed = append(removed, "the socket "+st.Socket.Path)
	}
	return removed
}

// removeDeadSocket removes a socket file nobody listens on.
func removeDeadSocket(path string) bool {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().Type() != fs.ModeSocket {
		return false
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED) && os.Remove(path) == nil
}
