package lifecycle

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

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
	fs.IntVar(&o.BufferSize, "b", o.BufferSize, "buffer size: the largest message is this less 5 bytes (10..65540)")
	fs.BoolVar(&cfg.Humdinger, "h", false, "front server is humdinger (accepted for old command lines; changes nothing)")
	fs.StringVar(&o.Path, "l", o.Path, "listen on this socket")
	fs.IntVar(&o.MaxConns, "m", o.MaxConns, "maximum connections at once")
	fs.StringVar(&cfg.User, "u", "nobody", "user to run as (the server must start as root)")
	fs.StringVar(&cfg.Group, "g", "", "group to run as and to own the socket (default nobody, or the user's primary group)")
	fs.BoolVar(&cfg.Foreground, "x", false, "stay in the foreground: no daemon, no pidfile, errors to stderr")
	fs.StringVar(&cfg.ConfigFile, "f", "", "configuration file for the server to read")
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
