// Command dorritctl works with dorrit servers from the command line: it
// talks to one over its socket (connect), diagnoses why a front server
// cannot reach it (check), runs a development front that serves a page
// and proxies WebSocket to it (dev), and prints front server, systemd and
// rc.d configuration (config).
//
//	dorritctl help
//	dorritctl connect echo --send hello
//	dorritctl check echo --as www-data
//	dorritctl dev
//	dorritctl config nginx echo
//
// A NAME stands for the socket /var/run/NAME.socket, the default of a
// server named NAME; anything with a slash is a socket path.
//
// Exit status, as in the LSB: 0 success, 1 failure, 2 bad arguments,
// 4 no permission, 7 not running.
package main

import (
	"fmt"
	"io"
	"os"
)

// Exit statuses (LSB init script actions).
const (
	exitOK           = 0
	exitFailure      = 1
	exitUsage        = 2
	exitNoPermission = 4
	exitNotRunning   = 7
)

// streams are a command's standard streams, so that tests run commands in
// process.
type streams struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

func main() {
	os.Exit(run(os.Args[1:], &streams{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}))
}

// run dispatches to a subcommand and returns the exit status.
func run(args []string, s *streams) int {
	if len(args) == 0 {
		fmt.Fprintln(s.stderr, "dorritctl: no command given; run 'dorritctl help' for the list")
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		return runHelp(s, nil)
	}
	c := lookup(args[0])
	if c == nil {
		fmt.Fprintf(s.stderr, "dorritctl: unknown command %q; run 'dorritctl help' for the list\n", args[0])
		return exitUsage
	}
	return c.run(s, args[1:])
}
