package lifecycle

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/internal/unixsocket"
)

// Config is what the command line said, given to Configure, Init and
// Serve.
type Config struct {
	Options    dorrit.Options // the Server's Options, with Name, Path (-l), BufferSize (-b), MaxConns (-m) and MaxQueueBytes as the server runs with them
	User       string         // -u, default "nobody"
	Group      string         // -g, default "nobody", or the user's primary group where there is no group "nobody"
	Foreground bool           // -x: no daemon, no pidfile, logs to stderr
	ConfigFile string         // -f: for Init and Serve to read
	Control    string         // -control: the control socket's path, absolute; empty for the default (Server.Control)
	Args       []string       // what follows the flags

	// Periodic are the functions the server process runs at intervals:
	// the Server's Periodic, which Configure may change or add to, say
	// with an interval from the application's own flag (a flag such as
	// -stats 0 that turns one off leaves it out).
	Periodic []Periodic

	// Logger writes to stderr in the foreground and to syslog under the
	// server's name once detached.
	Logger *slog.Logger

	args []string // the command line Run was given, for the next stage

	// dashH is -h, the manual's flag for its humdinger front server,
	// accepted so that old command lines keep working: dorrit reads the
	// standard forwarded upgrade from every front server, so it changes
	// nothing but a note at start (see noteDashH).
	dashH bool
}

// parseFlags reads the manual's flags. -l, -b and -m default to the
// Server's Options, and to the manual's defaults where those are zero.
func parseFlags(s *Server, args []string, stderr io.Writer) (*Config, error) {
	cfg := &Config{Options: s.Options, Periodic: slices.Clone(s.Periodic)}
	o := &cfg.Options
	o.Name = s.Name
	if o.Path == "" {
		o.Path = unixsocket.DefaultPath(s.Name)
	}
	if o.BufferSize == 0 {
		o.BufferSize = dorrit.DefaultBufferSize
	}
	if o.MaxConns == 0 {
		o.MaxConns = dorrit.DefaultMaxConns
	}
	if o.MaxQueueBytes == 0 {
		o.MaxQueueBytes = defaultMaxQueueBytes()
	}
	fs := flag.NewFlagSet(s.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var(&intFlag{&o.BufferSize, dorrit.MinBufferSize, dorrit.MaxBufferSize, "the buffer size"},
		"b", "buffer `size`: the largest message is size-5 bytes (10..65540)")
	fs.BoolVar(&cfg.dashH, "h", false, "front server is humdinger (accepted for old command lines; changes nothing)")
	fs.StringVar(&o.Path, "l", o.Path, "listen on this `socket`")
	fs.Var(&intFlag{&o.MaxConns, 1, math.MaxInt, "the maximum number of connections"},
		"m", "`max`imum number of connections at once (1 or more)")
	fs.StringVar(&cfg.User, "u", "nobody", "`user` to run as (the server must start as root)")
	fs.StringVar(&cfg.Group, "g", "", "`group` to run as and to own the socket (default nobody, or the user's primary group)")
	fs.BoolVar(&cfg.Foreground, "x", false, "stay in the foreground: no daemon, no pidfile, errors to stderr")
	fs.StringVar(&cfg.ConfigFile, "f", "", "configuration `file` for the server to read")
	// Not one of the manual's letters, whose flags are fixed: a long name
	// that says what it is, as an application's own flags do.
	fs.StringVar(&cfg.Control, "control", s.Control, "serve the control socket (dorritctl status --control `path`) at path, also with -x")
	synopsis := "[-x] [-h] [-l socket] [-b size] [-m max] [-u user] [-g group] [-f file] [-control path]"
	if s.Flags != nil {
		// Defined on a set of their own first, so that a clash with the
		// manual's flags is an error that says so, not the flag package's
		// panic.
		own := flag.NewFlagSet(s.Name, flag.ContinueOnError)
		s.Flags(own)
		var clash []string
		own.VisitAll(func(f *flag.Flag) {
			if fs.Lookup(f.Name) != nil {
				clash = append(clash, "-"+f.Name)
				return
			}
			fs.Var(f.Value, f.Name, f.Usage)
			if name, _ := flag.UnquoteUsage(f); name == "" {
				synopsis += fmt.Sprintf(" [-%s]", f.Name)
			} else {
				synopsis += fmt.Sprintf(" [-%s %s]", f.Name, name)
			}
		})
		if len(clash) > 0 {
			return nil, fmt.Errorf("lifecycle.Server.Flags defines %s, which lifecycle uses for the manual's flags: give the application's flags other names", strings.Join(clash, ", "))
		}
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s %s\n", s.Name, synopsis)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	cfg.Args = fs.Args()
	if cfg.Control != "" {
		// Absolute, so that status names it whole, for dorritctl run from
		// any directory.
		abs, err := filepath.Abs(cfg.Control)
		if err != nil {
			return nil, fmt.Errorf("%w: -control %s: %v", ErrUsage, cfg.Control, err)
		}
		cfg.Control = abs
	}
	return cfg, nil
}

// intFlag is an int flag that takes only min..max, so that a value the
// server cannot run with is a usage error before anything starts, rather
// than an error after Init, or a zero that silently means the default.
type intFlag struct {
	p        *int
	min, max int
	what     string
}

func (f *intFlag) String() string {
	if f.p == nil { // the flag package's zero value, for -help
		return "0"
	}
	return strconv.Itoa(*f.p)
}

func (f *intFlag) Set(s string) error {
	n, err := strconv.ParseInt(s, 0, strconv.IntSize)
	if err != nil || int(n) < f.min || int(n) > f.max {
		if f.max == math.MaxInt {
			return fmt.Errorf("%s must be %d or more", f.what, f.min)
		}
		return fmt.Errorf("%s must be %d..%d", f.what, f.min, f.max)
	}
	*f.p = int(n)
	return nil
}
