package main

import (
	"strings"
	"testing"
)

// Bad command lines get exit status 2 and one line that says what to do.
func TestBadArguments(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{nil, "dorritctl help"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"connect"}, "missing SOCKET|NAME"},
		{[]string{"connect", "a", "b"}, "one SOCKET|NAME"},
		{[]string{"connect", "echo", "--bogus"}, "-bogus"},
		{[]string{"connect", "echo", "-H", "nocolon"}, "'Name: value'"},
		{[]string{"connect", "echo", "--timeout", "soon"}, "timeout"},
		{[]string{"check"}, "missing NAME|SOCKET"},
		{[]string{"check", "echo", "--as", "no-such-user-here"}, `unknown user "no-such-user-here"`},
		{[]string{"config"}, "missing the target"},
		{[]string{"config", "lighttpd", "echo"}, `unknown target "lighttpd"`},
		{[]string{"config", "nginx"}, "missing NAME"},
		{[]string{"config", "nginx", "../etc"}, "NAME"},
		{[]string{"config", "nginx", "echo", "--socket", "relative.socket"}, "absolute path"},
		{[]string{"config", "nginx", "echo", "--location", "ws"}, "--location"},
		{[]string{"config", "nginx", "echo", "--listen", "http"}, "--listen"},
		{[]string{"config", "rcd", "my-echo"}, "letters, digits and _"},
		{[]string{"config", "nginx", "echo", "--socket-activation"}, "systemd"},
		{[]string{"dev", "--addr", "0.0.0.0:0"}, "--public"},
		{[]string{"dev", "--addr", ":0"}, "--public"},
		{[]string{"dev", "./server"}, "after --"},
		{[]string{"dev", "--"}, "nothing after --"},
		{[]string{"help", "frobnicate"}, `unknown command "frobnicate"`},
	}
	for _, c := range cases {
		r := ctl("", c.args...)
		if r.code != exitUsage {
			t.Errorf("dorritctl %q: exit %d, want %d\n%v", c.args, r.code, exitUsage, r)
		}
		if !strings.Contains(r.stderr, c.want) {
			t.Errorf("dorritctl %q: stderr does not say %q\n%v", c.args, c.want, r)
		}
		if n := strings.Count(r.stderr, "\n"); n != 1 || r.stdout != "" {
			t.Errorf("dorritctl %q: want one line on stderr and nothing on stdout\n%v", c.args, r)
		}
	}
}

// help lists every command there is, and explains each.
func TestHelp(t *testing.T) {
	r := ctl("", "help")
	if r.code != 0 {
		t.Fatalf("help: %v", r)
	}
	for _, c := range sorted() {
		if !strings.Contains(r.stdout, "  "+c.name+" ") {
			t.Errorf("help does not list %s:\n%s", c.name, r.stdout)
		}
		h := ctl("", c.name, "-h")
		if c.name == "help" {
			h = ctl("", "help", "help")
		}
		if h.code != 0 || !strings.Contains(h.stdout, "usage: dorritctl "+c.name) {
			t.Errorf("%s -h: %v", c.name, h)
		}
	}
	if r := ctl("", "--help"); r.code != 0 || !strings.Contains(r.stdout, "connect") {
		t.Errorf("--help: %v", r)
	}
}

func TestSocketPath(t *testing.T) {
	for arg, want := range map[string]string{
		"echo":              "/var/run/echo.socket",
		"/run/echo.socket":  "/run/echo.socket",
		"tmp/x.socket":      "tmp/x.socket",
		"./echo.socket":     "./echo.socket",
		"no-such-file-here": "/var/run/no-such-file-here.socket",
	} {
		if got := socketPath(arg); got != want {
			t.Errorf("socketPath(%q) = %q, want %q", arg, got, want)
		}
	}
}
