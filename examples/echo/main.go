// Command echo is the manual's echo server: every text message a client
// sends comes back to it. Put it behind a front server that forwards
// WebSocket upgrades to its socket (README.md beside this file has the
// shortest runs behind dorritctl dev and behind nginx).
//
//	go run ./examples/echo -x -l /tmp/echo.socket
//
// It takes the manual's flags (package lifecycle): -l socket, -b buffer
// size, -m maximum connections, -u/-g account (default nobody), -x
// foreground, -f configuration file, -h accepted for old command lines.
// Started as root without -x it becomes a daemon with /var/run/echo.pid,
// logging to syslog; SIGTERM stops it gracefully, SIGHUP upgrades it.
//
// Its own flag, -ping interval (default 30s), is Options.PingInterval:
// a client silent that long is pinged, which keeps a front server's idle
// timeout (nginx's proxy_read_timeout, 60 s) from cutting it, and one that
// does not answer within the interval is closed with 1001. -ping 0 turns
// keepalive off.
package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/lifecycle"
)

func main() {
	ping := dorrit.DefaultPingInterval
	lifecycle.Main(lifecycle.Server{
		Name: "echo",
		Flags: func(fs *flag.FlagSet) {
			fs.DurationVar(&ping, "ping", ping, "keepalive: ping a client silent this `interval`; 0 turns it off")
		},
		Configure: func(cfg *lifecycle.Config) error {
			switch {
			case ping < 0:
				return fmt.Errorf("-ping %v: give a positive interval, or 0 to turn keepalive off", ping)
			case ping == 0:
				cfg.Options.PingInterval = -1 // dorrit: negative disables, 0 is the default
			default:
				cfg.Options.PingInterval = ping
			}
			return nil
		},
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
		if err := c.Write(msg); err != nil {
			return // queue full: a client that does not read is let go
		}
	}
}
