package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/coder/websocket"
)

var checkCommand = &command{
	name:     "check",
	synopsis: "NAME|SOCKET [--as USER] [--host H] [-H 'Name: value']… [--timeout D]",
	summary:  "diagnose why a front server cannot reach a server, and print the fix",
	order:    30,
	details: `
One line per finding, "ok" or "fix" followed by what is wrong and the
command that fixes it:

  - the socket exists and is a socket;
  - USER can reach it: search permission on every directory on the way,
    write permission on the socket (its owner, group and mode against
    USER's groups), e.g. "chmod o+x /root" or "start the server with
    -g www-data". Without --as, the front servers running here (nginx,
    haproxy, caddy, apache2, httpd) are checked with the groups they
    actually run with, and whether they see the socket at all (a private
    /tmp hides it);
  - the server answers a WebSocket handshake;
  - a browser's handshake, with an Origin of the same host, is accepted.

  --as USER       the account the front server runs as (www-data for Debian's nginx and Apache)
  --host H        the Host of the handshakes (default localhost)
  -H 'Name: v'    a header for both handshakes (e.g. a Cookie an Authorize hook wants)
  --timeout D     bound on each handshake (default 5s)

Exit status: 0 when every line is ok, 7 when the server is not running,
1 for any other problem.`,
}

func init() {
	checkCommand.run = runCheck
	register(checkCommand)
}

// A finding is one line of check's report.
type finding struct {
	ok   bool
	note bool // neither ok nor a problem: something not checked
	text string
}

func good(format string, args ...any) finding {
	return finding{ok: true, text: fmt.Sprintf(format, args...)}
}
func bad(format string, args ...any) finding { return finding{text: fmt.Sprintf(format, args...)} }
func note(format string, args ...any) finding {
	return finding{ok: true, note: true, text: fmt.Sprintf(format, args...)}
}

func (f finding) String() string {
	switch {
	case f.note:
		return "note " + f.text
	case f.ok:
		return "ok   " + f.text
	}
	return "fix  " + f.text
}

func runCheck(s *streams, args []string) int {
	c := checkCommand
	fs := newFlags(c)
	as := fs.String("as", "", "")
	var hdr headerFlags
	fs.Var(&hdr, "H", "")
	host := fs.String("host", "localhost", "")
	timeout := fs.Duration("timeout", 5*time.Second, "")
	p, status := parseOrReport(c, s, fs, args)
	if p == nil {
		return status
	}
	switch {
	case len(p.positional) == 0:
		return c.usage(s, "missing NAME|SOCKET: give the server's name or socket path, e.g. dorritctl check echo --as www-data")
	case len(p.positional) > 1 || p.dashdash:
		return c.usage(s, "one NAME|SOCKET at a time")
	case *timeout <= 0:
		return c.usage(s, "--timeout %v must be positive", *timeout)
	case *host == "":
		return c.usage(s, "--host needs a host name")
	}
	var accounts []*account
	if *as != "" {
		a, err := lookupAccount(*as)
		if err != nil {
			return c.usage(s, "--as: %v", err)
		}
		accounts = append(accounts, a)
	}
	socket := socketPath(p.positional[0])

	report := func(f finding) { fmt.Fprintln(s.stdout, f) }
	failed := false
	add := func(fs ...finding) {
		for _, f := range fs {
			report(f)
			failed = failed || !f.ok
		}
	}

	st, f, status := checkFile(socket)
	add(f)
	if st == nil {
		return status
	}

	if accounts == nil {
		accounts = runningFronts()
		if accounts == nil {
			add(note("access not checked: no --as USER, and no front server runs here; give the account of yours (--as www-data for Debian's nginx and Apache, caddy, haproxy; www on FreeBSD)"))
		}
	}
	for _, a := range accounts {
		if f := seesSocket(a, socket); f != nil {
			add(*f)
			continue
		}
		add(reach(a, socket, st)...)
	}

	h := handshake{host: *host, header: hdr.h}
	f, status = checkHandshake(socket, h, *timeout, "the server answers a WebSocket handshake")
	add(f)
	if status == exitNotRunning || status == exitNoPermission {
		return status
	}
	h.origin = "http://" + *host
	h.header = h.header.Clone()
	if h.header == nil {
		h.header = http.Header{}
	}
	h.header.Set("User-Agent", "Mozilla/5.0 (dorritctl check)")
	f, _ = checkHandshake(socket, h, *timeout, fmt.Sprintf("a browser's handshake from its own site (Origin %s, Host %s) is accepted", h.origin, *host))
	add(f)
	if failed {
		return exitFailure
	}
	return exitOK
}

// checkFile looks at the socket file itself.
func checkFile(socket string) (*syscall.Stat_t, finding, int) {
	fi, err := os.Stat(socket)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, bad("no socket at %s: start the server (a NAME means /var/run/NAME.socket; a server started with -l PATH needs that PATH here)", socket), exitNotRunning
	case errors.Is(err, fs.ErrPermission):
		return nil, bad("cannot look at %s as %s: permission denied; run dorritctl check as root", socket, currentUser()), exitNoPermission
	case err != nil:
		return nil, bad("cannot look at %s: %v", socket, err), exitFailure
	case fi.Mode().Type() != fs.ModeSocket:
		return nil, bad("%s is not a socket (%s): remove it (rm %s) and restart the server, which creates its socket at start", socket, describeKind(fi), socket), exitFailure
	}
	st, err := statSocket(socket)
	if err != nil {
		return nil, bad("cannot look at %s: %v", socket, err), exitFailure
	}
	return st, good("%s is a socket (%s)", socket, describeFile(st)), exitOK
}

func describeKind(fi fs.FileInfo) string {
	switch {
	case fi.IsDir():
		return "a directory"
	case fi.Mode().IsRegular():
		return "a regular file"
	}
	return fi.Mode().Type().String()
}

// checkHandshake opens and closes one connection.
func checkHandshake(socket string, h handshake, timeout time.Duration, what string) (finding, int) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, resp, err := dial(ctx, socket, h)
	if err != nil {
		msg, status := dialFailure(socket, resp, err, timeout)
		return bad("%s: no: %s", what, msg), status
	}
	proto := conn.Subprotocol()
	if proto == "" {
		proto = "none"
	}
	conn.Close(websocket.StatusNormalClosure, "")
	return good("%s (101 Switching Protocols, sub-protocol %s)", what, proto), exitOK
}
