package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// newFlags makes a flag set that reports nothing itself: parse turns its
// errors into one line.
func newFlags(c *command) *flag.FlagSet {
	fs := flag.NewFlagSet("dorritctl "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parsed is a command line taken apart.
type parsed struct {
	positional []string // operands among the flags, in order
	rest       []string // everything after "--", untouched
	dashdash   bool     // "--" was given
}

// errHelp is returned by parse for -h; the caller prints the command's help.
var errHelp = errors.New("help requested")

// parse reads flags and operands in any order (dorritctl connect echo
// --send hi and dorritctl connect --send hi echo are the same), up to a
// "--", after which everything is kept for the caller.
func parse(fs *flag.FlagSet, args []string) (*parsed, error) {
	p := &parsed{}
	for i, a := range args {
		if a == "--" {
			p.rest, p.dashdash = args[i+1:], true
			args = args[:i]
			break
		}
	}
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, errHelp
			}
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return p, nil
		}
		p.positional = append(p.positional, args[0])
		args = args[1:]
	}
}

// parseOrReport parses args for c; on -h it prints the help and on an
// error one usage line. A status of -1 means go on.
func parseOrReport(c *command, s *streams, fs *flag.FlagSet, args []string) (*parsed, int) {
	p, err := parse(fs, args)
	switch {
	case errors.Is(err, errHelp):
		printCommandHelp(s, c)
		return nil, exitOK
	case err != nil:
		return nil, c.usage(s, "%v", err)
	}
	return p, -1
}

// listFlag collects a flag given several times.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ", ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// headerFlags are -H 'Name: value' options.
type headerFlags struct{ h http.Header }

func (hf *headerFlags) String() string { return "" }

func (hf *headerFlags) Set(v string) error {
	name, value, ok := strings.Cut(v, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.ContainsAny(name, " \t") {
		return fmt.Errorf("-H %q is not a header: write it as 'Name: value', e.g. -H 'Cookie: session=…'", v)
	}
	if hf.h == nil {
		hf.h = http.Header{}
	}
	hf.h.Add(name, strings.TrimSpace(value))
	return nil
}
