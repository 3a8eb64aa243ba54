package lifecycle

import (
	"context"
	"flag"
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
	// they are empty, -u and -g do (when started as root). A MaxQueueBytes
	// of 0 becomes dorrit.DefaultMaxQueueBytes or a quarter of the
	// machine's memory, whichever is less. Every other field reaches the
	// server process as given. Listener must be nil: lifecycle creates the
	// socket, or adopts the one systemd passed.
	Options dorrit.Options

	// Flags, when set, defines the application's own flags on fs, next to
	// the manual's, which it may not redefine. The command line is parsed
	// with them in every process of the server, so Init and Serve read
	// them from the variables Flags binds them to.
	Flags func(fs *flag.FlagSet)

	// Configure, when set, is where values known only once the command
	// line is parsed go: it runs in every process of the server right
	// after the parse, before Init and before the socket is created, and
	// may change cfg.Options and cfg.Periodic from the application's own
	// flags (a keepalive interval, origin patterns, how often a Periodic
	// runs), which the Server, built before the parse, cannot hold. An
	// error is a usage error: it is printed on stderr, nothing starts, and
	// Run returns it wrapped so that errors.Is(err, ErrUsage) holds (Main
	// exits with status 2).
	Configure func(cfg *Config) error

	// Init runs once at start, before anything else: still as the starting
	// user (root, for a system service), with stderr on the terminal. An
	// error stops the start (Run returns it wrapped; Main exits with status
	// 1) with nothing created. Init runs in the starting process; Serve
	// runs in a fresh process, so what Serve needs it opens itself (Init is
	// for checks and preparation).
	Init func(cfg *Config) error

	// Serve is the accept loop. It runs in the server process, as -u/-g,
	// with ln ready. On SIGTERM (or when the ctx of Run in the server
	// process ends) ln is shut down (connections drain, Accept fails) and
	// then ctx is cancelled, so an ordinary loop that returns when Accept
	// fails is all that is needed. Serve returning nil before that ends the
	// server: the supervisor stops too. An error from Serve is logged and
	// the server process exits with status 1, which the supervisor takes
	// for a crash: it starts a new one.
	Serve func(ctx context.Context, ln *dorrit.Listener, cfg *Config) error

	// Periodic functions run in the server process every Every, the first
	// time one interval after start (the manual's ws_set_periodic), and
	// stop with it. Configure may change them, or add one whose interval
	// comes from a flag (Config.Periodic).
	Periodic []Periodic

	// UpgradeGrace is how long a server process replaced by an upgrade
	// (SIGHUP) goes on serving its connections after it stopped accepting,
	// before it drains them (1001 after their queues and after the answer
	// to a message a handler is busy with: dorrit.Listener.Shutdown;
	// clients reconnect to the new process). It lets conversations that
	// began just before the upgrade finish. Default 1s.
	UpgradeGrace time.Duration

	// DrainTimeout bounds the graceful stop of a server process: its
	// connections get their queues and a 1001 close within it. Default 10s.
	DrainTimeout time.Duration

	// SyslogNetwork and SyslogAddr choose the syslog daemon a detached
	// server logs to; empty means the local one (/dev/log).
	SyslogNetwork, SyslogAddr string

	// PidDir is where the pidfile goes; default /var/run.
	PidDir string

	// Control is the path of the supervisor's control socket, which
	// answers dorritctl status (-control PATH sets it from the command
	// line). Empty leaves it where a daemon or a service keeps it,
	// PidDir/NAME.ctl, and gives a server run with -x by hand none. Set,
	// the supervisor serves it there whichever way it was started, and a
	// server that cannot create it does not start: the operator asked for
	// it. It is how a server run in the foreground by runit, in a
	// container or by hand is seen by dorritctl status --control PATH.
	Control string
}

// Periodic is a function run at a fixed interval.
type Periodic struct {
	Every time.Duration // the interval; positive
	Func  func(ctx context.Context)
}

func stderrLogger(name string) *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, nil)).With("server", name)
}
