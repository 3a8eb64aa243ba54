// Command soak holds many WebSocket connections open against the README's
// echo server for a long time and fails if the server loses anything on
// the way: it starts the server as a child process (so that its memory is
// the server's own), opens -n connections, has each send a numbered
// message on a schedule and check its echo while answering the server's
// keepalive pings, closes and reopens some of them as it goes, and samples
// the server's RSS, goroutines and descriptors. At the end every client
// closes and the server must come back to its baseline.
//
//	go run ./internal/cmd/soak                        # 10,000 connections, 10 minutes
//	go run ./internal/cmd/soak -n 1000 -for 20s -every 2s -quiet-every 5s -ping 2s
//
// It exits with status 1 and the reasons when any message is lost or
// mangled, a connection is refused or closed by the server, the server's
// counters disagree with the clients', its RSS after a GC grew by more than
// -rss-growth (or its heap by more than 10 % + 2 MiB) between the warm-up
// (once every connection has talked: a connection that handled a message
// keeps a larger goroutine stack) and the end, or its goroutines and
// descriptors are not back to where they were before the first connection
// within -settle of the last close.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	var cfg config
	flag.IntVar(&cfg.n, "n", 10000, "connections held open")
	flag.DurationVar(&cfg.dur, "for", 10*time.Minute, "how long they talk, from the moment all are open")
	flag.DurationVar(&cfg.every, "every", 20*time.Second, "a talking connection sends a message this often (±25 %)")
	flag.Float64Var(&cfg.quiet, "quiet", 0.2, "share of connections that talk rarely, so that the keepalive pings them")
	flag.DurationVar(&cfg.quietEvery, "quiet-every", 75*time.Second, "a quiet connection sends a message this often (±25 %)")
	flag.Float64Var(&cfg.churn, "churn", 0.02, "chance that a connection closes after a message and a new one opens")
	flag.IntVar(&cfg.size, "size", 100, "message size in bytes (20..125)")
	flag.DurationVar(&cfg.ping, "ping", 0, "the server's PingInterval (0: dorrit's default, 30 s)")
	flag.DurationVar(&cfg.pong, "pong", 0, "the server's PongTimeout (0: dorrit's default, PingInterval)")
	flag.DurationVar(&cfg.sample, "sample", time.Minute, "how often the server is sampled")
	flag.IntVar(&cfg.dialers, "dialers", 32, "connections opened at once at the start")
	flag.Float64Var(&cfg.rssGrowth, "rss-growth", 1.25, "fail if the server's RSS after a GC at the end exceeds this many times its figure after the warm-up (plus 8 MiB)")
	flag.DurationVar(&cfg.settle, "settle", 30*time.Second, "how long the server may take to come back to its baseline after the last close")
	flag.DurationVar(&cfg.echoWait, "echo-wait", 30*time.Second, "how long a closing client waits for its echoes before it counts them lost")
	serve := flag.String("serve", "", "internal: run the echo server on this socket")
	maxConns := flag.Int("max-conns", 0, "internal: the server's MaxConns")
	flag.StringVar(&cfg.fault, "fault", "", "internal: a fault for the server to have, to see the soak fail (drop, close, leak, open, hold)")
	flag.Parse()
	if *serve != "" {
		if err := runServer(*serve, *maxConns, cfg.ping, cfg.pong, cfg.fault); err != nil {
			fmt.Fprintln(os.Stderr, "soak server:", err)
			os.Exit(1)
		}
		return
	}
	if err := cfg.check(); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	if err := run(cfg, os.Stdout); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println("PASS")
}
