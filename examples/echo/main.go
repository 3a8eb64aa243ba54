// Command echo is the manual's echo server: every text message a client
// sends comes back to it. Put it behind a front server that forwards
// WebSocket upgrades to its socket (see the README for nginx).
//
//	go run ./examples/echo -x -l /tmp/echo.socket
//
// Flags, as in libdorrit: -l socket path, -b buffer size, -m maximum
// connections, -u/-g owner of the socket (mode 0770, so the front server
// must be in the group), -x foreground (until package lifecycle lands the
// server always runs in the foreground and keeps its user), -h accepted for
// old command lines.
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/dorritgo/dorrit"
)

func main() {
	var o dorrit.Options
	o.Name = "echo"
	flag.StringVar(&o.Path, "l", "", "listen on this socket (default /var/run/echo.socket)")
	flag.IntVar(&o.BufferSize, "b", dorrit.DefaultBufferSize, "buffer size: the largest message is this less 5 bytes (10..65540)")
	flag.IntVar(&o.MaxConns, "m", dorrit.DefaultMaxConns, "maximum connections at once")
	flag.StringVar(&o.SocketUser, "u", "", "user that owns the socket (needs root)")
	flag.StringVar(&o.SocketGroup, "g", "", "group that owns the socket: the front server's group, e.g. www-data (needs root)")
	flag.Bool("x", false, "run in the foreground")
	flag.Bool("h", false, "front server is humdinger (changes nothing: dorrit reads the standard forwarded upgrade)")
	flag.Parse()

	ln, err := dorrit.Listen(o)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("echo: listening on %s", ln.Addr())

	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
		<-stop
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ln.Shutdown(ctx) // every client gets its queue, then 1001
	}()

	for {
		c, err := ln.Accept()
		if err != nil {
			break
		}
		go serve(c)
	}
	<-stopped
}

func serve(c *dorrit.MessageConn) {
	defer c.Close()
	for {
		msg, err := c.Read(context.Background())
		if err != nil {
			return
		}
		if err := c.Write(msg); err != nil {
			return // queue full: a client that does not read is let go
		}
	}
}
