package main

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/dorritgo/dorrit/internal/control"
)

var reloadCommand = &command{
	name:     "reload",
	synopsis: "NAME|--control PATH [--timeout D] [--piddir DIR | --pidfile FILE]",
	summary:  "upgrade a server gracefully: the binary now on disk takes over, nothing is refused",
	order:    16,
	details: `
Sends SIGHUP to the server's supervisor, which starts a server process
from the binary now on disk on the same socket; once it accepts, the old
one stops accepting, serves its connections for the upgrade grace (1 s by
default) and drains them. No connection attempt is refused meanwhile.
reload returns once the supervisor reports the outcome over the control
socket: the new server process's PID, or why it did not start (the old
one keeps serving then).

  --timeout D   bound on the upgrade (default 60s; lifecycle gives a new server
                process 30 s to accept)
` + serviceFlagsHelp + `

Exit status: 0 upgraded; 1 the upgrade failed (the old server process
keeps serving); 4 not root; 7 not running.`,
}

func init() {
	reloadCommand.run = runReload
	register(reloadCommand)
}

// reloadWait bounds a reload.
const reloadWait = 60 * time.Second

// reloadPoll is how often reload asks the control socket for the outcome.
const reloadPoll = 50 * time.Millisecond

func runReload(s *streams, args []string) int {
	c := reloadCommand
	fs := newFlags(c)
	timeout := fs.Duration("timeout", reloadWait, "")
	sa, status := parseService(c, s, fs, args, noCommand)
	if sa == nil {
		return status
	}
	if *timeout <= 0 {
		return c.usage(s, "--timeout %v must be positive", *timeout)
	}
	ctx, stop := serviceContext()
	defer stop()

	svc := sa.locate(ctx, sa.name)
	name := svc.name // the server's own word with --control alone
	if sa.name == "" && svc.state() == stateStopped {
		return c.fail(s, exitNotRunning, "%s", svc.notRunningText())
	}
	switch svc.state() {
	case stateStopped:
		return c.fail(s, exitNotRunning, "%s; start it with dorritctl start %s -- SERVER [FLAGS]", svc.notRunningText(), name)
	case stateDead:
		return c.fail(s, exitNotRunning, "%s; start it with dorritctl start %s -- SERVER [FLAGS]", svc.deadText(), name)
	case stateUnknown:
		msg, code := svc.pidfileReadText()
		return c.fail(s, code, "%s", msg)
	}
	before := svc.status
	if before == nil {
		// Without the control socket the outcome cannot be known, and a
		// reload that may have failed silently is worse than none.
		msg, code := svc.unreachableText()
		return c.fail(s, code, "%s; no SIGHUP sent: without the control socket the outcome of an upgrade cannot be known", msg)
	}
	pid := svc.supervisorPID()
	if pid <= 1 { // kill(2) would take 0, -1 and 1 for whole sets of processes
		return c.fail(s, exitFailure, "%s: no supervisor PID to signal (control socket %s)", name, svc.control)
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		msg, code := signalFailure(name, pid, syscall.SIGHUP, err)
		return c.fail(s, code, "%s", msg)
	}

	deadline := time.NewTimer(*timeout)
	defer deadline.Stop()
	tick := time.NewTicker(reloadPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return c.fail(s, exitFailure, "interrupted: %s (PID %d) got SIGHUP and goes on upgrading by itself; dorritctl status %s shows the outcome", name, pid, name)
		case <-deadline.C:
			return c.fail(s, exitFailure, "%s (PID %d) reported no upgrade within %s of SIGHUP: see its log (journalctl -t %s, or /var/log/syslog) and dorritctl status %s", name, pid, *timeout, name, name)
		case <-tick.C:
		}
		actx, cancel := context.WithTimeout(ctx, askTimeout)
		st, err := control.Ask(actx, svc.control, "status")
		cancel()
		if err != nil {
			if !alive(pid) {
				return c.fail(s, exitFailure, "%s (PID %d) exited during the upgrade: see its log (journalctl -t %s, or /var/log/syslog)", name, pid, name)
			}
			continue
		}
		if st.Supervisor.PID != pid {
			return c.fail(s, exitFailure, "another supervisor (PID %d) answers for %s now: it was restarted during the upgrade", st.Supervisor.PID, name)
		}
		if st.UpgradeAttempts <= before.UpgradeAttempts || st.LastUpgrade == nil {
			continue
		}
		u := st.LastUpgrade
		if !u.OK {
			return c.fail(s, exitFailure, "upgrade failed: %s; server process PID %d keeps serving", u.Error, u.OldPID)
		}
		fmt.Fprintf(s.stdout, "%s reloaded: server process PID %d replaced PID %d, which serves its connections for %s more, then drains them\n",
			name, u.NewPID, u.OldPID, time.Duration(st.UpgradeGraceMS)*time.Millisecond)
		return exitOK
	}
}
