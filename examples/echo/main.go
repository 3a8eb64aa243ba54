// Command echo is the manual's echo server: every text message a client
// sends comes back to it. Put it behind a front server that forwards
// WebSocket upgrades to its socket (see the README for nginx).
//
//	go run ./examples/echo -x -l /tmp/echo.socket
//
// It takes the manual's flags (package lifecycle): -l socket, -b buffer
// size, -m maximum connections, -u/-g account (default nobody), -x
// foreground, -f configuration file, -h accepted for old command lines.
// Started as root without -x it becomes a daemon with /var/run/echo.pid,
// logging to syslog; SIGTERM stops it gracefully, SIGHUP upgrades it.
package main

import (
	"context"
	"errors"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/lifecycle"
)

func main() {
	lifecycle.Main(lifecycle.Server{
		Name: "echo",
		Serve: func(ctx context.Context, ln *dorrit.Listener, cfg *lifecycle.Config) error {
			for {
				c, err := ln.Accept()
				if err != nil {
					return nil // stopping: lifecycle shut the listener down
				}
				go echo(ctx, c)
			}
		},
	})
}

func echo(ctx context.Context, c *dorrit.MessageConn) {
	defer c.Close()
	for {
		msg, err := c.Read(ctx)
		if err != nil {
			return
		}
		// An empty message is legal but cannot be sent back (the
		// manual's -2); skip it rather than drop the client.
		err = c.Write(msg)
		if err != nil && !errors.Is(err, dorrit.ErrEmptyMessage) {
			return // queue full: a client that does not read is let go
		}
	}
}
