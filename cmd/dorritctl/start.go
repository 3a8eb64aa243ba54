package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

var startCommand = &command{
	name:     "start",
	synopsis: "NAME [--timeout D] [--piddir DIR | --pidfile FILE] -- SERVER [SERVER FLAGS]",
	summary:  "start a server as a daemon and wait until it accepts connections",
	order:    13,
	details: `
Runs SERVER with its own flags, as root, the way an operator or rc.d would:
without -x, so that package lifecycle makes it a daemon with the pidfile
/var/run/NAME.pid and the control socket /var/run/NAME.ctl. NAME is the
server's name (lifecycle.Server.Name; echo for the echo example). The
server's start command returns once a server process accepts
connections; its messages (a bad flag, an unknown -u user, a failed
Init) are shown as they come. SERVER gets dorritctl's environment, without
systemd's variables, and its working directory.

A server already running is left alone: the status is 0 and says so.

  --timeout D   bound on the start (default 60s)
` + serviceFlagsHelp + `

  dorritctl start echo -- /usr/local/bin/echo -l /run/echo.socket -g www-data

Exit status: 0 accepting (or already running); 1 the server did not start
(its message is above); 2 bad arguments, the server's own included;
4 not root; 5 SERVER does not exist or is not executable.`,
}

func init() {
	startCommand.run = runStart
	register(startCommand)
}

// startWait bounds a start: lifecycle gives a server process 30 s to
// accept, and Init runs before it.
const startWait = 60 * time.Second

func runStart(s *streams, args []string) int {
	c := startCommand
	fs := newFlags(c)
	timeout := fs.Duration("timeout", startWait, "")
	sa, status := parseService(c, s, fs, args, needCommand)
	if sa == nil {
		return status
	}
	if *timeout <= 0 {
		return c.usage(s, "--timeout %v must be positive", *timeout)
	}
	ctx, stop := serviceContext()
	defer stop()
	wd, _ := os.Getwd()
	code, msg := startService(ctx, s, sa.serviceFlags, sa.name, sa.command, wd, *timeout)
	if code != exitOK {
		return c.fail(s, code, "%s", msg)
	}
	fmt.Fprintln(s.stdout, msg)
	return exitOK
}

// startService starts the server named name with command in dir and says
// how it went, in one line, with the exit status. restart uses it too.
func startService(ctx context.Context, s *streams, sf *serviceFlags, name string, command []string, dir string, timeout time.Duration) (int, string) {
	if slices.Contains(command[1:], "-x") {
		return exitUsage, "drop -x from the server's flags: dorritctl start runs it as a daemon, with a pidfile and a control socket (-x is for running it yourself, or under systemd)"
	}
	if os.Geteuid() != 0 {
		return exitNoPermission, "run as root (sudo dorritctl start …): a server writes its pidfile, which dorritctl finds it by, only when started as root; without root, run it yourself with -x"
	}
	svc := sf.locate(ctx, name)
	switch svc.state() {
	case stateRunning:
		return exitOK, fmt.Sprintf("%s is already running as PID %d", name, svc.supervisorPID())
	case stateUnknown:
		msg, code := svc.pidfileReadText()
		return code, msg
	}
	bin, err := findBinary(command[0], dir)
	if err != nil {
		return exitNotInstalled, err.Error()
	}

	cmd := exec.Command(bin, command[1:]...)
	cmd.Dir = dir
	cmd.Env = withoutSystemd(os.Environ())
	cmd.Stdout, cmd.Stderr = s.stderr, s.stderr
	// Its own process group: a Ctrl-C meant for dorritctl does not cut a
	// start in progress short, which would leave it half done.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return exitNotInstalled, fmt.Sprintf("cannot run %s: %v", bin, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var werr error
	select {
	case werr = <-done:
	case <-ctx.Done():
		return exitFailure, fmt.Sprintf("interrupted: the start of %s goes on by itself (its start command is in a process group of its own); dorritctl status %s shows how it ended", name, name)
	case <-time.After(timeout):
		cmd.Process.Kill()
		<-done
		return exitFailure, fmt.Sprintf("%s did not report within %s whether it accepts: killed its start command; see the log (journalctl -t %s, or /var/log/syslog), and dorritctl status %s", name, timeout, name, name)
	}
	var ee *exec.ExitError
	switch {
	case errors.As(werr, &ee) && ee.ExitCode() == exitUsage:
		return exitUsage, fmt.Sprintf("%s refused its command line (its message is above)", bin)
	case werr != nil:
		return exitFailure, fmt.Sprintf("%s did not start (%v); its message is above", name, werr)
	}

	svc = sf.locate(ctx, name)
	if svc.state() != stateRunning {
		return exitFailure, fmt.Sprintf("%s started, but there is no running server named %s (%s): is %s its name (lifecycle.Server.Name, which names the pidfile)? Stop it with kill and give its name",
			bin, name, svc.pidfile, name)
	}
	text := fmt.Sprintf("%s started: supervisor PID %d", name, svc.supervisorPID())
	if st := svc.status; st != nil {
		if sp := st.Serving(); sp != nil {
			text += fmt.Sprintf(", server process PID %d", sp.PID)
		}
		text += fmt.Sprintf(", accepting on %s", st.Socket.Path)
	}
	return exitOK, text
}

// findBinary resolves the server's binary as a shell would, from dir.
func findBinary(name, dir string) (string, error) {
	path := name
	if !strings.ContainsRune(name, '/') {
		p, err := exec.LookPath(name)
		if err != nil {
			return "", fmt.Errorf("no %s in PATH: give the server's path, e.g. /usr/local/bin/%s", name, name)
		}
		path = p
	} else if !strings.HasPrefix(name, "/") {
		path = dir + "/" + name
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("no server binary at %s: build or install it (go build -o %s ./yourserver)", path, path)
	case err != nil:
		return "", fmt.Errorf("cannot use %s: %v", path, err)
	case fi.IsDir() || fi.Mode().Perm()&0o111 == 0:
		return "", fmt.Errorf("%s is not an executable file: chmod +x it, or give the server's binary", path)
	}
	return path, nil
}

// withoutSystemd drops what would make a lifecycle server stay in the
// foreground for systemd (and so never return from its start): dorritctl
// may itself run under systemd, or in a shell started by a service.
func withoutSystemd(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(e string) bool {
		for _, v := range []string{"NOTIFY_SOCKET=", "LISTEN_PID=", "LISTEN_FDS=", "LISTEN_FDNAMES=", "WATCHDOG_USEC=", "WATCHDOG_PID="} {
			if strings.HasPrefix(e, v) {
				return true
			}
		}
		return false
	})
}
