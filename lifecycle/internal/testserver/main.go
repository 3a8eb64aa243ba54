// Command testserver is the server the lifecycle tests run as a real
// process: an echo server that also answers "whoami" with its process
// identity and panics on "panic".
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/lifecycle"
)

// The crash report "dump" writes: dumpLines lines, with one of longLine
// bytes in the middle for "dumplong".
const (
	dumpLines = 3000
	longLine  = 70000
)

func main() {
	askIfAsked()
	s := lifecycle.Server{
		Name:          os.Getenv("TESTSERVER_NAME"),
		PidDir:        os.Getenv("TESTSERVER_PIDDIR"),
		SyslogNetwork: "unixgram",
		SyslogAddr:    os.Getenv("TESTSERVER_SYSLOG"),
		DrainTimeout:  3 * time.Second,
		Options:       optionsFromEnv(),
		Init: func(cfg *lifecycle.Config) error {
			if os.Getenv("TESTSERVER_INIT_FAIL") != "" {
				return errors.New("refusing to start, as asked")
			}
			fmt.Fprintf(os.Stderr, "init as uid %d\n", os.Geteuid())
			return nil
		},
		Serve: serve,
	}
	if s.SyslogAddr == "" {
		s.SyslogNetwork = ""
	}
	if d, err := time.ParseDuration(os.Getenv("TESTSERVER_DRAIN")); err == nil {
		s.DrainTimeout = d
	}
	if tick := os.Getenv("TESTSERVER_TICK_FILE"); tick != "" {
		p := lifecycle.Periodic{Every: 50 * time.Millisecond, Func: func(context.Context) {
			f, err := os.OpenFile(tick, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o666)
			if err == nil {
				f.WriteString("tick\n")
				f.Close()
			}
		}}
		if os.Getenv("TESTSERVER_TICK_FLAG") != "" {
			// -tick sets the interval, known once the flags are parsed
			// (Configure); without it there are no ticks.
			var every time.Duration
			s.Flags = func(fs *flag.FlagSet) { fs.DurationVar(&every, "tick", 0, "`interval` of the ticks; 0: none") }
			s.Configure = func(cfg *lifecycle.Config) error {
				if every < 0 {
					return fmt.Errorf("-tick %v: give a positive interval, or 0 for no ticks", every)
				}
				if every > 0 {
					p.Every = every
					cfg.Periodic = append(cfg.Periodic, p)
				}
				return nil
			}
		} else {
			s.Periodic = []lifecycle.Periodic{p}
		}
	}
	if hold := os.Getenv("TESTSERVER_HOLD"); hold != "" {
		holdWhile(hold)
	}
	if os.Getenv("TESTSERVER_RUN") != "" {
		runMode(s)
	}
	lifecycle.Main(s)
}

func serve(ctx context.Context, ln *dorrit.Listener, cfg *lifecycle.Config) error {
	if os.Getenv("TESTSERVER_CRASH") != "" {
		panic("crashing at once, as asked")
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			hangIfAsked()
			return nil
		}
		go func() {
			defer c.Close()
			for {
				msg, err := c.Read(ctx)
				if err != nil {
					return
				}
				switch string(msg) {
				case "whoami":
					msg = []byte(identity())
				case "options":
					msg = []byte(describeOptions(cfg.Options))
				case "memory":
					msg = []byte(describeMemory(ln))
				case "greeting":
					msg = fmt.Appendf(nil, "pid=%d %s", os.Getpid(), greeting)
				case "panic":
					panic("panic requested by a client")
				case "log":
					cfg.Logger.Info("logged at a client's request", "pid", os.Getpid())
				case "dump", "dumplong":
					// A long crash report of known lines, as a panic
					// with many goroutines writes it, then the crash.
					w := bufio.NewWriter(os.Stderr)
					for i := 1; i <= dumpLines; i++ {
						fmt.Fprintf(w, "dump line %04d %s\n", i, strings.Repeat("x", 80))
						if string(msg) == "dumplong" && i == dumpLines/2 {
							fmt.Fprintf(w, "long line %s\n", strings.Repeat("y", longLine))
						}
					}
					w.Flush()
					panic("dump done")
				}
				if err := c.Write(msg); err != nil {
					return
				}
			}
		}()
	}
}

// identity is the pid and the Uid/Gid lines of /proc/self/status.
func identity() string {
	b, _ := os.ReadFile("/proc/self/status")
	out := fmt.Sprintf("pid=%d", os.Getpid())
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.HasPrefix(line, "Uid:") || strings.HasPrefix(line, "Gid:") {
			out += " " + strings.Join(strings.Fields(line), " ")
		}
	}
	return out
}
