package main

import (
	"strings"
	"testing"
)

// The five service commands read their NAME and pidfile flags alike: the
// same words for the same mistake, each on one line with status 2.
func TestServiceCommandLines(t *testing.T) {
	for _, cmd := range []string{"start", "stop", "restart", "reload", "status"} {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{nil, "give one NAME, the server's name (echo for /var/run/echo.pid)"},
			{[]string{"a", "b"}, "give one NAME, the server's name (echo for /var/run/echo.pid)"},
			{[]string{"a/b"}, "--pidfile a/b"},
			{[]string{"a", "--piddir", "/run", "--pidfile", "/run/a.pid"}, "--piddir and --pidfile"},
			{[]string{"a", "--bogus"}, "flag provided but not defined: -bogus"},
			{[]string{"a", "--control", ""}, "--control is empty"},
		} {
			args := append([]string{cmd}, tc.args...)
			if cmd == "start" || cmd == "restart" {
				args = append(args, "--", "/bin/true")
			}
			r := ctl("", args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Errorf("dorritctl %q: want status 2 and one line with %q\n%v", args, tc.want, r)
			}
		}
		r := ctl("", cmd, "-h")
		if r.code != 0 || !strings.Contains(r.stdout, "--piddir DIR") || !strings.Contains(r.stdout, "--pidfile FILE") || !strings.Contains(r.stdout, "--control PATH") {
			t.Errorf("dorritctl %s -h: want the pidfile flags in the help\n%v", cmd, r)
		}
	}
	// NAME may be left out with --control, but not by a command that
	// starts a server: its pidfile is named after it.
	for _, cmd := range []string{"start", "restart"} {
		r := ctl("", cmd, "--control", "/nonexistent/x.ctl", "--", "/bin/true")
		if r.code != exitUsage || !strings.Contains(r.stderr, "give one NAME") {
			t.Errorf("dorritctl %s --control without NAME: want status 2 and give one NAME\n%v", cmd, r)
		}
	}
	for _, cmd := range []string{"stop", "reload", "status"} {
		r := ctl("", cmd, "--control", "/nonexistent/x.ctl")
		if r.code == exitUsage || !strings.Contains(r.stdout+r.stderr, "the server at /nonexistent/x.ctl is not running") {
			t.Errorf("dorritctl %s --control without NAME, nothing there: want not running, naming the path\n%v", cmd, r)
		}
	}
}
