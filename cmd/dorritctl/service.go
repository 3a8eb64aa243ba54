package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dorritgo/dorrit/internal/control"
)

// defaultPidDir is where package lifecycle puts a daemon's pidfile and
// control socket unless the server sets Server.PidDir.
const defaultPidDir = "/var/run"

// askTimeout bounds one exchange on a control socket.
const askTimeout = 5 * time.Second

// A service is a server as dorritctl finds it by its name: its pidfile,
// whose lock its supervisor holds while it runs, and its control socket,
// which answers with what only the running server knows.
type service struct {
	name    string
	pidfile string
	control string

	pid    int   // from the pidfile; 0 when there is none or it holds no PID
	hasPid bool  // the pidfile exists
	pidErr error // the pidfile cannot be read, or holds no PID
	held   bool  // its lock is held: the supervisor it names runs

	status *control.Status // nil when the control socket did not answer
	ctlErr error
}

// serviceFlags are the options that say where a server keeps its pidfile
// and its control socket.
type serviceFlags struct {
	piddir, pidfile string
	control         string // --control: the control socket a server was given with -control
}

// serviceFlagsHelp documents the pidfile flags for each command's help.
const serviceFlagsHelp = `  --piddir DIR       where the server keeps NAME.pid and NAME.ctl (lifecycle.Server.PidDir; default /var/run)
  --pidfile FILE     the pidfile itself; the control socket is beside it, FILE with .ctl for .pid
  --control PATH     the control socket a server was given with -control PATH (one run with -x
                     by hand, by runit, in a container); status, stop and reload then need no NAME`

// afterDashDash says what a service command takes after "--".
type afterDashDash int

const (
	noCommand   afterDashDash = iota // stop, reload, status
	needCommand                      // start: the server's command line
	mayCommand                       // restart: a new command line, or none to keep the old one
)

// serviceArgs is the command line the service commands (start, stop,
// restart, reload, status) share: one NAME, where its pidfile is, and
// what came after "--".
type serviceArgs struct {
	*serviceFlags
	name    string
	command []string // after "--"
}

// parseService parses the command line of service command c, whose own
// flags are on fs already: it adds the pidfile flags, and checks NAME and
// what follows "--" as after says. A nil result comes with the exit
// status: the help was printed (0), or one usage line (2).
func parseService(c *command, s *streams, fs *flag.FlagSet, args []string, after afterDashDash) (*serviceArgs, int) {
	sf := &serviceFlags{}
	fs.StringVar(&sf.piddir, "piddir", defaultPidDir, "")
	fs.StringVar(&sf.pidfile, "pidfile", "", "")
	fs.StringVar(&sf.control, "control", "", "")
	p, status := parseOrReport(c, s, fs, args)
	if p == nil {
		return nil, status
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	// A server found by its control socket alone (--control) says its
	// name; one that is started needs it for its pidfile.
	nameless := given["control"] && after == noCommand && len(p.positional) == 0
	switch {
	case given["control"] && sf.control == "":
		return nil, c.usage(s, "--control is empty: give the path the server was given with -control")
	case nameless:
		return &serviceArgs{serviceFlags: sf, command: p.rest}, -1
	case len(p.positional) != 1:
		return nil, c.usage(s, "give one NAME, the server's name (echo for /var/run/echo.pid), or --control PATH")
	case given["piddir"] && given["pidfile"]:
		return nil, c.usage(s, "give --piddir and --pidfile not both: the pidfile names the directory")
	case after == noCommand && p.dashdash:
		return nil, c.usage(s, "nothing goes after --: this command takes NAME and flags only")
	case after == needCommand && len(p.rest) == 0:
		return nil, c.usage(s, "nothing after --: give the server's binary and flags, e.g. dorritctl %s echo -- /usr/local/bin/echo -g www-data", c.name)
	case after == mayCommand && p.dashdash && len(p.rest) == 0:
		return nil, c.usage(s, "nothing after --: give the server's binary and flags, or leave out -- to keep its command line")
	}
	if err := checkName(p.positional[0]); err != nil {
		return nil, c.usage(s, "%v", err)
	}
	return &serviceArgs{serviceFlags: sf, name: p.positional[0], command: p.rest}, -1
}

// serviceContext is cancelled by Ctrl-C or SIGTERM, which end a service
// command's wait with a word about what goes on without it.
func serviceContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// checkName says what is wrong with a NAME operand, or nil.
func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("empty NAME: give the server's name, e.g. echo for /var/run/echo.pid")
	case strings.ContainsRune(name, '/'):
		return fmt.Errorf("NAME %q is a path: give the server's name (lifecycle.Server.Name), and --pidfile %s for a pidfile elsewhere", name, name)
	case strings.HasPrefix(name, "-"):
		return fmt.Errorf("NAME %q looks like a flag: give the server's name first, or put flags before it", name)
	}
	return nil
}

// paths are the pidfile and control socket of the server named name; no
// pidfile for a server known by its control socket alone (no name).
func (sf *serviceFlags) paths(name string) (pidfile, ctl string) {
	switch {
	case sf.pidfile != "":
		pidfile = sf.pidfile
		ctl = strings.TrimSuffix(sf.pidfile, ".pid") + control.Suffix
	case name != "":
		pidfile = filepath.Join(sf.piddir, name+".pid")
		ctl = control.Path(sf.piddir, name)
	}
	if sf.control != "" {
		ctl = sf.control
	}
	return pidfile, ctl
}

// locate finds the server named name (empty: the one on --control):
// reads its pidfile, tells whether its lock is held, and asks its control
// socket for the status.
func (sf *serviceFlags) locate(ctx context.Context, name string) *service {
	svc := &service{name: name}
	svc.pidfile, svc.control = sf.paths(name)
	if svc.pidfile != "" {
		svc.readPidfile()
	}
	svc.ask(ctx)
	switch {
	case name != "":
	case svc.status != nil && svc.status.Name != "":
		svc.name = svc.status.Name
	default:
		svc.name = "the server at " + svc.control
	}
	return svc
}

func (svc *service) readPidfile() {
	b, err := os.ReadFile(svc.pidfile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return
	case err != nil:
		svc.hasPid = true
		svc.pidErr = err
		return
	}
	svc.hasPid = true
	// PID 1 is init, never a supervisor (and signalled, or its "group"
	// killed by --force, it would stand for every process).
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b)))
	if err != nil || pid <= 1 {
		svc.pidErr = fmt.Errorf("pidfile %s holds %q, not a PID", svc.pidfile, bytes.TrimSpace(b))
	} else {
		svc.pid = pid
	}
	svc.held = pidfileHeld(svc.pidfile)
}

// ask asks the control socket for the status.
func (svc *service) ask(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, askTimeout)
	defer cancel()
	svc.status, svc.ctlErr = control.Ask(ctx, svc.control, "status")
}

// Where a server is.
type state int

const (
	stateStopped state = iota // no pidfile, no control socket answers
	stateRunning              // its supervisor runs
	stateDead                 // its pidfile remains, and nothing holds it
	stateUnknown              // the pidfile cannot be read, or it is inconsistent
)

func (svc *service) state() state {
	switch {
	case svc.status != nil && svc.status.Supervisor.PID <= 1:
		return stateUnknown
	case svc.status != nil && (!svc.held || svc.status.Supervisor.PID == svc.pid):
		return stateRunning
	case svc.status != nil: // another supervisor than the pidfile's answers
		return stateUnknown
	case svc.held && svc.pid != 0:
		return stateRunning
	case svc.pidErr != nil:
		return stateUnknown
	case svc.hasPid:
		return stateDead
	}
	return stateStopped
}

// supervisorPID is the running supervisor's PID: the control socket's
// word, else the pidfile's.
func (svc *service) supervisorPID() int {
	if svc.status != nil && svc.status.Supervisor.PID > 1 {
		return svc.status.Supervisor.PID
	}
	if svc.held {
		return svc.pid
	}
	return 0
}

// ctlDenied reports whether the control socket refused this account.
func (svc *service) ctlDenied() bool {
	return errors.Is(svc.ctlErr, syscall.EACCES) || errors.Is(svc.ctlErr, syscall.EPERM) ||
		errors.Is(svc.ctlErr, control.ErrRefused)
}

// notRunningText says that the server does not run, and where dorritctl
// looked.
func (svc *service) notRunningText() string {
	if svc.pidfile == "" {
		return fmt.Sprintf("%s is not running (no control socket answers at %s)", svc.name, svc.control)
	}
	return fmt.Sprintf("%s is not running (no %s and no control socket %s; a server named otherwise, or keeping its pidfile elsewhere, needs its name or --piddir)",
		svc.name, svc.pidfile, svc.control)
}

// deadText describes a pidfile left behind by a supervisor that is gone.
func (svc *service) deadText() string {
	return fmt.Sprintf("%s is not running, but its pidfile %s remains (PID %d is gone: killed, or the machine stopped)", svc.name, svc.pidfile, svc.pid)
}

// unreachableText explains why a running server's control socket did not
// answer, and the exit status for it.
func (svc *service) unreachableText() (string, int) {
	pid := svc.supervisorPID()
	switch {
	case svc.ctlDenied():
		return fmt.Sprintf("%s runs as PID %d, but its control socket %s is private to the account that started it (%v): run as root (sudo dorritctl …)", svc.name, pid, svc.control, svc.ctlErr), exitNoPermission
	case errors.Is(svc.ctlErr, syscall.ENOENT), errors.Is(svc.ctlErr, syscall.ECONNREFUSED):
		return fmt.Sprintf("%s runs as PID %d, but has no control socket at %s (a server built with an older dorrit, or one whose PidDir is elsewhere: --piddir)", svc.name, pid, svc.control), exitFailure
	}
	return fmt.Sprintf("%s runs as PID %d, but its control socket %s does not answer: %v", svc.name, pid, svc.control, svc.ctlErr), exitFailure
}

// pidfileReadText explains an unreadable pidfile and the exit status.
func (svc *service) pidfileReadText() (string, int) {
	if errors.Is(svc.pidErr, fs.ErrPermission) {
		return fmt.Sprintf("cannot read %s: %v: run as root (sudo dorritctl …)", svc.pidfile, svc.pidErr), exitNoPermission
	}
	if svc.status != nil {
		return fmt.Sprintf("the pidfile %s names PID %d, but supervisor PID %d answers on %s: two servers named %s? Stop the one you do not want by its PID (kill PID)",
			svc.pidfile, svc.pid, svc.status.Supervisor.PID, svc.control, svc.name), exitFailure
	}
	return fmt.Sprintf("%v: remove it if no server named %s runs (fuser %s shows who holds it)", svc.pidErr, svc.name, svc.pidfile), exitFailure
}
