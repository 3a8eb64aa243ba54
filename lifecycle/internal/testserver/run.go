package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/dorritgo/dorrit/lifecycle"
)

// greeting is the application's own flag, answered to "greeting".
var greeting = "hello"

// runMode is main with TESTSERVER_RUN set: the server embedded the way a
// program with subcommands embeds it, "testserver serve [-] flags…", through
// lifecycle.Run with a flag of its own (-greeting) and a context that
// SIGUSR1 cancels. "-" reads more arguments from stdin, one a line, as a
// wrapper might hand them over; a process started again cannot read them
// again. It reports what Run returned on stderr and exits as Main would.
func runMode(s lifecycle.Server) {
	if len(os.Args) < 2 || os.Args[1] != "serve" {
		fmt.Fprintln(os.Stderr, "usage: testserver serve [-] [flags]")
		os.Exit(3)
	}
	args := os.Args[2:]
	if len(args) > 0 && args[0] == "-" {
		var piped []string
		for sc := bufio.NewScanner(os.Stdin); sc.Scan(); {
			piped = append(piped, sc.Text())
		}
		args = append(piped, args[1:]...)
	}
	s.Flags = func(fs *flag.FlagSet) {
		fs.StringVar(&greeting, "greeting", greeting, "what to answer \"greeting\" with")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGUSR1)
	defer stop()
	err := lifecycle.Run(ctx, s, args)
	var running *lifecycle.AlreadyRunningError
	pid := 0
	if errors.As(err, &running) {
		pid = running.PID
	}
	fmt.Fprintf(os.Stderr, "run returned in pid %d: %v (usage %t, already running %t as %d)\n",
		os.Getpid(), err, errors.Is(err, lifecycle.ErrUsage), errors.Is(err, lifecycle.ErrAlreadyRunning), pid)
	switch {
	case err == nil:
		os.Exit(0)
	case errors.Is(err, lifecycle.ErrUsage):
		os.Exit(2)
	default:
		os.Exit(1)
	}
}
