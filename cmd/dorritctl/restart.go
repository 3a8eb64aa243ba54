package main

import (
	"fmt"
	"os"

	"github.com/dorritgo/dorrit/internal/control"
)

var restartCommand = &command{
	name:     "restart",
	synopsis: "NAME [--timeout D] [--force] [--piddir DIR | --pidfile FILE] [-- SERVER [SERVER FLAGS]]",
	summary:  "stop a server and start it again with the same command line",
	order:    15,
	details: `
Reads the running server's binary, command line and working directory
from its control socket, stops it as dorritctl stop does, and starts it
again with them as dorritctl start does. Connections are closed (1001)
and clients reconnect; for a new binary without closing anything, use
dorritctl reload.

After --, a command line replaces the old one (new flags). A server that
is not running is started with it (restart on a stopped service starts it,
as the LSB wants); without it, there is no command line to start.

  --timeout D   bound on the stop, as for stop (the start has 60 s)
  --force       SIGKILL a server that is still stopping after the timeout
` + serviceFlagsHelp + `

Exit status: as for stop and start; 7 not running and no command line given.`,
}

func init() {
	restartCommand.run = runRestart
	register(restartCommand)
}

func runRestart(s *streams, args []string) int {
	c := restartCommand
	fs := newFlags(c)
	timeout := fs.Duration("timeout", 0, "")
	force := fs.Bool("force", false, "")
	sa, status := parseService(c, s, fs, args, mayCommand)
	if sa == nil {
		return status
	}
	if *timeout < 0 {
		return c.usage(s, "--timeout %v must not be negative (0, or none, is the server's drain time plus 10 s)", *timeout)
	}
	if os.Geteuid() != 0 {
		return c.fail(s, exitNoPermission, "run as root (sudo dorritctl restart …): the server's supervisor is root's, and so are its pidfile and control socket")
	}
	ctx, stop := serviceContext()
	defer stop()

	name := sa.name
	svc := sa.locate(ctx, name)
	command, dir := sa.command, ""
	old := 0
	switch svc.state() {
	case stateRunning:
		st := svc.status
		if st == nil {
			msg, code := svc.unreachableText()
			return c.fail(s, code, "%s; cannot read its command line to start it again: dorritctl stop %s, then dorritctl start %s -- SERVER [FLAGS]", msg, name, name)
		}
		switch st.Mode {
		case control.ModeSystemd:
			return c.fail(s, exitFailure, "%s runs under systemd: systemctl restart %s", name, name)
		case control.ModeForeground:
			return c.fail(s, exitFailure, "%s runs in the foreground (-x, PID %d), under whoever started it: restart it there (dorritctl start runs daemons only)", name, st.Supervisor.PID)
		}
		if len(command) == 0 {
			command = append([]string{st.Supervisor.Binary}, st.Supervisor.Args...)
		}
		dir, old = st.Supervisor.Dir, st.Supervisor.PID
		code, msg := stopService(ctx, c, s, svc, *timeout, *force)
		if code != exitOK {
			return c.fail(s, code, "%s", msg)
		}
		fmt.Fprintf(s.stderr, "dorritctl restart: %s\n", msg)
	case stateUnknown:
		msg, code := svc.pidfileReadText()
		return c.fail(s, code, "%s", msg)
	default:
		if len(command) == 0 {
			return c.fail(s, exitNotRunning, "%s is not running, and restart takes the command line from the running server: dorritctl start %s -- SERVER [FLAGS]", name, name)
		}
	}
	if dir == "" {
		dir, _ = os.Getwd()
	}
	code, msg := startService(ctx, s, sa.serviceFlags, name, command, dir, startWait)
	if code != exitOK {
		return c.fail(s, code, "%s", msg)
	}
	if old != 0 {
		msg += fmt.Sprintf(" (was PID %d)", old)
	}
	fmt.Fprintln(s.stdout, msg)
	return exitOK
}
