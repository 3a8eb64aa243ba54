package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
)

var helpCommand = &command{
	name:     "help",
	synopsis: "[COMMAND]",
	summary:  "list the commands, or explain one",
	order:    100,
}

func init() {
	helpCommand.run = runHelp
	register(helpCommand)
}

func runHelp(s *streams, args []string) int {
	switch len(args) {
	case 0:
	case 1:
		c := lookup(args[0])
		if c == nil {
			return helpCommand.usage(s, "unknown command %q", args[0])
		}
		printCommandHelp(s, c)
		return exitOK
	default:
		return helpCommand.usage(s, "one command at a time")
	}
	fmt.Fprintln(s.stdout, "usage: dorritctl COMMAND [arguments]")
	fmt.Fprintln(s.stdout)
	tw := tabwriter.NewWriter(s.stdout, 0, 4, 2, ' ', 0)
	for _, c := range sorted() {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	tw.Flush()
	fmt.Fprint(s.stdout, `
A NAME is a server's name: its pidfile is /var/run/NAME.pid, its control
socket /var/run/NAME.ctl and, unless it was started with -l, its socket
/var/run/NAME.socket. Where a socket is meant, anything with a slash is a
socket path. 'dorritctl help COMMAND' or 'dorritctl COMMAND -h' explains
one command.

Exit status (LSB): 0 success, 1 failure, 2 bad arguments, 4 no permission,
5 the server binary to start is missing, 7 not running; status: 0 running,
1 dead with its pidfile left, 3 not running, 4 unknown.
`)
	return exitOK
}

func printCommandHelp(s *streams, c *command) {
	fmt.Fprintf(s.stdout, "usage: dorritctl %s %s\n\n%s.\n", c.name, c.synopsis, upperFirst(c.summary))
	if c.details != "" {
		fmt.Fprintf(s.stdout, "\n%s\n", strings.TrimSpace(c.details))
	}
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
