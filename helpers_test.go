package dorrit_test

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/dorritgo/dorrit"
)

// serve starts a listener on a socket in a temporary directory and runs
// handle for every accepted connection until the test ends.
func serve(t testing.TB, o dorrit.Options, handle func(*dorrit.MessageConn)) *dorrit.Listener {
	t.Helper()
	if o.Path == "" && o.Listener == nil {
		o.Path = filepath.Join(t.TempDir(), "s.sock")
	}
	ln, err := dorrit.Listen(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
	return ln
}

// echo is the handler every example shows.
func echo(c *dorrit.MessageConn) {
	defer c.Close()
	for {
		msg, err := c.Read(context.Background())
		if err != nil {
			return
		}
		if err := c.Write(msg); err != nil {
			return // queue full, or closing: Close above lets the queue drain
		}
	}
}

func sockPath(ln *dorrit.Listener) string { return ln.Addr().String() }

// dialCoder connects the well-behaved library client to the listener's socket.
func dialCoder(t testing.TB, ln *dorrit.Listener, opts *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	if opts == nil {
		opts = &websocket.DialOptions{}
	}
	path := sockPath(ln)
	opts.HTTPClient = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://localhost/", opts)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(-1)
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
