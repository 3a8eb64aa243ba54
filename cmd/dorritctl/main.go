// Command dorritctl works with dorrit servers from the command line: it
// starts, stops, restarts and upgrades a server run by package lifecycle
// and shows its live figures (status, read from the supervisor's private
// control socket), talks to one over its socket (connect), diagnoses why
// a front server cannot reach it (check), runs a development front that
// serves a page and proxies WebSocket to it (dev), and prints front
// server, systemd and rc.d configuration (config).
//
//	dorritctl help
//	dorritctl start echo -- /usr/local/bin/echo -g www-data
//	dorritctl status echo --watch
//	dorritctl reload echo
//	dorritctl stop echo
//	dorritctl connect echo --send hello
//	dorritctl check echo --as www-data
//	dorritctl dev
//	dorritctl config nginx echo
//
// A NAME is a server's name (lifecycle.Server.Name): its pidfile is
// /var/run/NAME.pid, its control socket /var/run/NAME.ctl and its default
// socket /var/run/NAME.socket. Where a socket is meant, anything with a
// slash is a socket path.
//
// Exit status, as in the LSB: 0 success, 1 failure, 2 bad arguments,
// 4 no permission, 5 the server binary to start is missing, 7 not
// running; status has the LSB status codes: 0 running, 1 dead with its
// pidfile left, 3 not running, 4 unknown.
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
	exitNotInstalled = 5 // start: the server's binary is missing
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
