package lifecycle

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"

	"github.com/dorritgo/dorrit"
)

// Config is what the command line said, given to Init and Serve.
type Config struct {
	Options    dorrit.Options // the Server's Options, with Name, Path (-l), BufferSize (-b) and MaxConns (-m) as the server runs with them
	User       string         // -u, default "nobody"
	Group      string         // -g, default "nobody", or the user's primary group where there is no group "nobody"
	Foreground bool           // -x: no daemon, no pidfile, logs to stderr
	Humdinger  bool           // -h: accepted for old command lines; changes nothing
	ConfigFile string         // -f: for Init and Serve to read
	Args       []string       // what follows the flags

	// Logger writes to stderr in the foreground and to syslog under the
	// server's name once detached.
	Logger *slog.Logger
}

// ErrUsage is returned for a command line that does not parse.
var ErrUsage = errors.New("lifecycle: bad command line")

// parseFlags reads the manual's flags. -l, -b and -m default to the
// Server's Options, and to the manual's defaults where those are zero.
func parseFlags(s *Server, args []string, stderr io.Writer) (*Config, error) {
	cfg := &Config{Options: s.Options}
	o := &cfg.Options
	o.Name = s.Name
	if o.Path == "" {
		o.Path = dorrit.DefaultPath(s.Name)
	}
	if o.BufferSize == 0 {
		o.BufferSize = dorrit.DefaultBufferSize
	}
	if o.MaxConns == 0 {
		o.MaxConns = dorrit.DefaultMaxConns
	}
	fs := flag.NewFlagSet(s.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var(&intFlag{&o.BufferSize, dorrit.MinBufferSize, dorrit.MaxBufferSize, "the buffer size"},
		"b", "buffer `size`: the largest message is size-5 bytes (10..65540)")
	fs.BoolVar(&cfg.Humdinger, "h", false, "front server is humdinger (accepted for old command lines; changes nothing)")
	fs.StringVar(&o.Path, "l", o.Path, "listen on this `socket`")
	fs.Var(&intFlag{&o.MaxConns, 1, math.MaxInt, "the maximum number of connections"},
		"m", "`max`imum number of connections at once (1 or more)")
	fs.StringVar(&cfg.User, "u", "nobody", "`user` to run as (the server must start as root)")
	fs.StringVar(&cfg.Group, "g", "", "`group` to run as and to own the socket (default nobody, or the user's primary group)")
	fs.BoolVar(&cfg.Foreground, "x", false, "stay in the foreground: no daemon, no pidfile, errors to stderr")
	fs.StringVar(&cfg.ConfigFile, "f", "", "configuration `file` for the server to read")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s [-x] [-h] [-l socket] [-b size] [-m max] [-u user] [-g group] [-f file]\n", s.Name)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	cfg.Args = fs.Args()
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
