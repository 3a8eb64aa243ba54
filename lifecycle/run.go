package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/dorritgo/dorrit"
)

// Main runs the server with the command line os.Args[1:], as the manual
// describes, and exits the process with Run's outcome: status 0 when the
// server stopped as asked (or, detached, once the daemon accepts) and for
// -help, 2 for a usage error (the flag package has printed it, with the
// usage), and 1 for any other error, which Main prints on stderr first. It
// never returns.
func Main(s Server) {
	err := Run(context.Background(), s, os.Args[1:])
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, ErrUsage):
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "%s: %v\n", s.name(), err)
		os.Exit(1)
	}
}

// Run runs the server s with the command line args (without the program
// name), as Main does, and returns what happened instead of exiting.
//
// In the foreground (-x), Run returns when the server has stopped: nil
// after SIGTERM or SIGINT, or once ctx ends, each of which stops it
// gracefully (the server process closes every connection with 1001 after
// its queue, within DrainTimeout, and the socket is removed); otherwise
// the error that stopped it, such as a server process that could not start
// or crashed too often. Without -x, Run returns nil as soon as the
// detached daemon accepts connections, or the reason it could not start;
// from then on the daemon is another process, which ctx does not reach:
// SIGTERM stops it. A ctx that has already ended starts nothing.
//
// Errors: a command line that does not parse, or a flag value outside its
// range, is printed on stderr with the usage, and errors.Is(err, ErrUsage)
// holds for what Run returns; -help returns flag.ErrHelp. A daemon of the
// same name already running returns an *AlreadyRunningError
// (errors.Is(err, ErrAlreadyRunning)). An error from Init is returned
// wrapped, so errors.Is and errors.As find it.
//
// Go cannot fork, so the daemon and the server processes are this binary
// started again, with the same os.Args (a main that dispatches on them
// still reaches Run) and the environment telling Run which stage to run
// and with the args of this first call, which it uses in place of its own.
// main must call Run (or Main) with the same Server there too. In those
// processes Run does not return: it exits when its stage ends (status 0
// for a server process that stopped as asked; anything else is a crash,
// and the supervisor starts a new one). So code after Run runs only in
// the process that was started.
func Run(ctx context.Context, s Server, args []string) error {
	if stage := os.Getenv(stageEnv); stage != "" {
		os.Exit(runStage(ctx, &s, stage))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	cfg, err := s.prepare(args)
	if err != nil {
		return err
	}
	return start(ctx, &s, cfg)
}

// prepare fills in the Server's defaults, checks it and parses args.
func (s *Server) prepare(args []string) (*Config, error) {
	s.Name = s.name()
	if s.UpgradeGrace == 0 {
		s.UpgradeGrace = time.Second
	}
	if s.DrainTimeout == 0 {
		s.DrainTimeout = 10 * time.Second
	}
	if s.PidDir == "" {
		s.PidDir = "/var/run"
	}
	if s.Serve == nil {
		return nil, errors.New("lifecycle.Server.Serve is nil: there is nothing to run")
	}
	if s.Options.Listener != nil {
		return nil, errors.New("lifecycle.Server.Options.Listener is set: lifecycle creates the socket (-l) or adopts the one systemd passes; leave Listener nil")
	}
	cfg, err := parseFlags(s, args, os.Stderr)
	if err != nil {
		return nil, err
	}
	if s.Configure != nil {
		if err := s.Configure(cfg); err != nil {
			// Printed as the flag package prints its own errors: Main
			// prints nothing more for a usage error.
			fmt.Fprintf(os.Stderr, "%s: %v\n", s.Name, err)
			return nil, fmt.Errorf("%w: %w", ErrUsage, err)
		}
	}
	// Checked once Configure had its say, which may have set them.
	for i, p := range cfg.Periodic {
		switch {
		case p.Func == nil:
			return nil, fmt.Errorf("lifecycle: Periodic[%d].Func is nil: give the function to run, or leave the Periodic out", i)
		case p.Every <= 0:
			return nil, fmt.Errorf("lifecycle: Periodic[%d].Every is %v: give a positive interval, or leave the Periodic out (in Configure, when a flag turns it off)", i, p.Every)
		}
	}
	cfg.args = args
	return cfg, nil
}

func (s *Server) name() string {
	switch {
	case s.Name != "":
		return s.Name
	case s.Options.Name != "":
		return s.Options.Name
	default:
		return dorrit.DefaultName
	}
}

// The stages of one server: the process a user starts, the detached
// supervisor, and the server process it runs as -u/-g. A stage is told its
// args in the environment, so that main may compute Run's args from
// os.Args, stdin or anything else, and each stage still parses the
// command line of the first call.
const (
	stageEnv       = "DORRIT_LIFECYCLE_STAGE"
	argsEnv        = "DORRIT_LIFECYCLE_ARGS"
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

// stageEnviron is the environment of a process started as stage with
// Run's args.
func stageEnviron(stage string, args []string) []string {
	enc, _ := json.Marshal(args) // a []string always encodes
	return append(withoutStage(os.Environ()), stageEnv+"="+stage, argsEnv+"="+string(enc))
}

// runStage runs the stage this process was started as, and gives its exit
// status.
func runStage(ctx context.Context, s *Server, stage string) int {
	var args []string
	err := json.Unmarshal([]byte(os.Getenv(argsEnv)), &args)
	// Not for the programs the server starts, which may be dorrit servers
	// themselves.
	os.Unsetenv(stageEnv)
	os.Unsetenv(argsEnv)
	if err != nil {
		err = fmt.Errorf("started as lifecycle stage %q without valid %s: %v", stage, argsEnv, err)
	}
	var cfg *Config
	if err == nil {
		cfg, err = s.prepare(args)
	}
	if err == nil && stage != stageServe && stage != stageSupervise {
		err = fmt.Errorf("unknown lifecycle stage %s=%q", stageEnv, stage)
	}
	if err != nil {
		// The first process accepted this command line, so main built
		// another Server here. The process that started this one waits for
		// a report on the ready pipe; the reason goes there.
		writeReport(readyPipe(), fmt.Errorf("%s: %w", stage, err))
		return 1
	}
	if stage == stageServe {
		restoreName()
		return serve(ctx, s, cfg)
	}
	return superviseDetached(ctx, s, cfg)
}
