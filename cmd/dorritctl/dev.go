package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

var devCommand = &command{
	name:     "dev",
	synopsis: "[--addr 127.0.0.1:8080] [--public] [-- SERVER [FLAGS]]",
	summary:  "run a server behind a development front: a page in the browser talks to it",
	order:    40,
	details: `
Starts SERVER in the foreground on a temporary socket (-x -l SOCKET are
appended to its flags), serves a page on http://ADDR/ with a message box,
the log of what was sent and received and the connection state, and
forwards http://ADDR/ws to the server with the browser's Host, so that
dorrit's Origin check accepts the page. Ctrl-C or SIGTERM stops the server
(gracefully) and the front.

Without SERVER, it runs the echo example, built with go from the module
github.com/dorritgo/dorrit: run it inside a checkout of dorrit or of a
module that requires it, or (for a released dorritctl) with go and the
network at hand.

  --addr ADDR   where the page is served (default 127.0.0.1:8080); loopback only,
                unless --public
  --public      allow a non-loopback --addr (other machines may then use your server)

This is a development front, not a production one: put nginx, HAProxy,
Caddy or Apache in front of a real server (dorritctl config).`,
}

func init() {
	devCommand.run = runDev
	register(devCommand)
}

// devSocketName is the socket's name in the temporary directory.
const devSocketName = "dev.socket"

func runDev(s *streams, args []string) int {
	c := devCommand
	fs := newFlags(c)
	addr := fs.String("addr", "127.0.0.1:8080", "")
	public := fs.Bool("public", false, "")
	p, status := parseOrReport(c, s, fs, args)
	if p == nil {
		return status
	}
	if len(p.positional) > 0 {
		return c.usage(s, "put the server and its flags after --: dorritctl dev -- %s", p.positional[0])
	}
	if p.dashdash && len(p.rest) == 0 {
		return c.usage(s, "nothing after --: give the server to run, or leave out -- for the echo example")
	}
	loopback, err := isLoopback(*addr)
	if err != nil {
		return c.usage(s, "--addr %q: %v; give host:port, e.g. 127.0.0.1:8080", *addr, err)
	}
	if !loopback && !*public {
		return c.usage(s, "--addr %s is not a loopback address; the development front serves this machine only, add --public to open it to others anyway", *addr)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return c.fail(s, exitFailure, "cannot serve on %s: %v (another program on that port? choose one with --addr 127.0.0.1:8081)", *addr, err)
	}
	defer ln.Close()
	if !loopback {
		fmt.Fprintf(s.stderr, "dorritctl dev: warning: serving on %s, which other machines can reach; this front has no TLS and no access control (a browser elsewhere must use this machine's address)\n", ln.Addr())
	}

	dir, err := os.MkdirTemp("", "dorritctl-dev-")
	if err != nil {
		return c.fail(s, exitFailure, "%v", err)
	}
	defer os.RemoveAll(dir)
	// A server started as root drops to nobody, which must be able to
	// execute a binary built here.
	os.Chmod(dir, 0o755)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	command := p.rest
	if len(command) == 0 {
		fmt.Fprintf(s.stderr, "dorritctl dev: no server given: building %s\n", echoPackage)
		exe, err := buildEcho(ctx, dir)
		if err != nil {
			return c.fail(s, exitFailure, "%v", err)
		}
		command = []string{exe}
	}
	socket := filepath.Join(dir, devSocketName)
	srv, err := startServer(command, socket, s)
	if err != nil {
		return c.fail(s, exitFailure, "%v", err)
	}
	defer srv.stop()
	if err := srv.waitReady(ctx); err != nil {
		return c.fail(s, exitFailure, "%v", err)
	}

	front := &http.Server{Handler: devHandler(socket, s.stderr), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- front.Serve(ln) }()
	url := "http://" + browsable(*addr, ln.Addr().(*net.TCPAddr)) + "/"
	fmt.Fprintf(s.stderr, "dorritctl dev: open %s in a browser; %sws goes to the server on %s\n", url, url, socket)
	fmt.Fprintln(s.stderr, "dorritctl dev: a development front, not a production one: in production put nginx, HAProxy, Caddy or Apache in front (dorritctl config)")
	fmt.Fprintln(s.stderr, "dorritctl dev: Ctrl-C stops the server and the front")

	status = exitOK
	select {
	case <-ctx.Done():
		fmt.Fprintln(s.stderr, "dorritctl dev: stopping the server")
	case <-srv.done:
		status = c.fail(s, exitFailure, "the server stopped on its own (%s); its messages are above", srv.exitText())
	case err := <-served:
		status = c.fail(s, exitFailure, "the front stopped: %v", err)
	}
	front.Close()
	if err := srv.stop(); err != nil && status == exitOK {
		status = c.fail(s, exitFailure, "%v", err)
	}
	return status
}

// browsable is the address to give a browser on this machine: the
// loopback address when the front listens on every interface (asked as
// ":8080", "0.0.0.0:8080" or "[::]:8080").
func browsable(asked string, a *net.TCPAddr) string {
	ip := a.IP
	if ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
		if host, _, _ := net.SplitHostPort(asked); host != "" && net.ParseIP(host).Equal(net.IPv6unspecified) {
			ip = net.IPv6loopback
		}
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(a.Port))
}

// isLoopback reports whether every address addr's host stands for is a
// loopback address. An empty host is every interface.
func isLoopback(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, err
	}
	if host == "" {
		return false, nil
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback(), nil
	}
	ips, err := net.LookupIP(host)
	if err != nil {
		return false, err
	}
	if len(ips) == 0 {
		return false, errors.New("the host name has no address")
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return false, nil
		}
	}
	return true, nil
}
