package lifecycle

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/dorritgo/dorrit"
)

// Server describes a dorrit server process. Only Serve is required.
type Server struct {
	// Name names the syslog ident, the pidfile /var/run/<Name>.pid and the
	// default socket /var/run/<Name>.socket. Default Options.Name, or
	// "server" when that is empty too.
	Name string

	// Options are the listener's options. Path, BufferSize and MaxConns are
	// the defaults of -l, -b and -m (where they are zero, the manual's:
	// /var/run/<Name>.socket, 65540 and 2000); the command line overrides
	// them. SocketUser and SocketGroup, when set, own the socket; where
	// they are empty, -u and -g do (when started as root). Every other
	// field reaches the server process as given. Listener must be nil:
	// lifecycle creates the socket, or adopts the one systemd passed.
	Options dorrit.Options

	// Init runs once at start, before anything else: still as the starting
	// user (root, for a system service), with stderr on the terminal. An
	// error stops the start with exit status 1 and nothing created. Init
	// runs in the starting process; Serve runs in a fresh process, so what
	// Serve needs it opens itself (Init is for checks and preparation).
	Init func(cfg *Config) error

	// Serve is the accept loop. It runs in the server process, as -u/-g,
	// with ln ready. On SIGTERM ctx is cancelled and ln is shut down
	// (connections drain, Accept fails), so an ordinary loop that returns
	// when Accept fails is all that is needed.
	Serve func(ctx context.Context, ln *dorrit.Listener, cfg *Config) error

	// Periodic functions run in the server process every Every, the first
	// time Every after start (the manual's ws_set_periodic), and stop with it.
	Periodic []Periodic

	// DrainTimeout bounds the graceful stop of a server process: its
	// connections get their queues and a 1001 close within it. Default 10s.
	DrainTimeout time.Duration

	// SyslogNetwork and SyslogAddr choose the syslog daemon a detached
	// server logs to; empty means the local one (/dev/log).
	SyslogNetwork, SyslogAddr string

	// PidDir is where the pidfile goes; default /var/run.
	PidDir string
}

// Periodic is a function run at a fixed interval.
type Periodic struct {
	Every time.Duration
	Func  func(ctx context.Context)
}

// Main runs the server as the manual describes and exits the process: it
// parses the flags, runs Init, creates the socket, drops privileges,
// detaches unless -x, writes the pidfile and serves until SIGTERM. It never
// returns.
func Main(s Server) {
	os.Exit(runMain(s, os.Args[1:]))
}

// The stages of one server: the process a user starts, the detached
// supervisor, and the server process it runs as -u/-g.
const (
	stageEnv       = "DORRIT_LIFECYCLE_STAGE"
	stageSupervise = "supervise"
	stageServe     = "serve"
	pidfileEnv     = "DORRIT_LIFECYCLE_PIDFILE"
)

// Descriptors passed to the next stage.
const (
	fdListener = 3
	fdReady    = 4
	fdPidfile  = 5
)

func runMain(s Server, args []string) int {
	if s.Name == "" {
		s.Name = s.Options.Name
	}
	if s.Name == "" {
		s.Name = dorrit.DefaultName
	}
	if s.DrainTimeout == 0 {
		s.DrainTimeout = 10 * time.Second
	}
	if s.PidDir == "" {
		s.PidDir = "/var/run"
	}
	if s.Serve == nil {
		fmt.Fprintf(os.Stderr, "%s: lifecycle.Server.Serve is nil: there is nothing to run\n", s.Name)
		return 1
	}
	if s.Options.Listener != nil {
		fmt.Fprintf(os.Stderr, "%s: lifecycle.Server.Options.Listener is set: lifecycle creates the socket (-l) or adopts the one systemd passes; leave Listener nil\n", s.Name)
		return 1
	}
	cfg, err := parseFlags(&s, args, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	switch os.Getenv(stageEnv) {
	case stageServe:
		restoreName()
		return serve(&s, cfg)
	case stageSupervise:
		return superviseDetached(&s, cfg)
	default:
		return start(&s, cfg)
	}
}

// fail reports a start-up error on stderr and gives the exit status.
func fail(s *Server, format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "%s: %s\n", s.Name, fmt.Sprintf(format, args...))
	return 1
}

func stderrLogger(name string) *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, nil)).With("server", name)
}
