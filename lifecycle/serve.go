package lifecycle

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/dorritgo/dorrit"
	"github.com/oklog/run"
)

// serve is the server process: it adopts the socket, tells the supervisor
// it accepts, and runs Serve and the periodic functions until SIGTERM or the
// end of runCtx (the ctx of Run in this process).
func serve(runCtx context.Context, s *Server, cfg *Config) int {
	signal.Ignore(syscall.SIGHUP) // the supervisor handles upgrades
	ready := os.NewFile(fdReady, "ready")
	if cfg.Foreground {
		cfg.Logger = stderrLogger(s.Name)
	} else if l, err := syslogLogger(s); err == nil {
		cfg.Logger = l
	} else {
		cfg.Logger = stderrLogger(s.Name) // the supervisor logs our stderr
	}
	l, err := net.FileListener(os.NewFile(fdListener, "listener"))
	if err != nil {
		fmt.Fprintf(ready, "ERROR cannot adopt the socket: %v\n", err)
		return 1
	}
	o := cfg.Options
	o.Listener, o.Path = l, ""
	ln, err := dorrit.Listen(o)
	if err != nil {
		fmt.Fprintf(ready, "ERROR %v\n", err)
		return 1
	}
	// Caught before READY: from then on the supervisor may ask us to stop.
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGINT)
	fmt.Fprintln(ready, "READY")
	ready.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var g run.Group
	quit := make(chan struct{})
	g.Add(func() error {
		select {
		case <-term:
		case <-runCtx.Done():
		case <-quit:
		}
		return nil
	}, func(error) { close(quit) })

	status := 0
	g.Add(func() error {
		if err := s.Serve(ctx, ln, cfg); err != nil {
			cfg.Logger.Error("serve", "err", err)
			status = 1
		}
		return nil
	}, func(error) {
		// Shutdown first, so that every client hears 1001 (going away)
		// after its queue, before Serve's ctx ends.
		drain, stop := context.WithTimeout(context.Background(), s.DrainTimeout)
		defer stop()
		if err := ln.Shutdown(drain); err != nil {
			cfg.Logger.Error("drain cut short", "err", err)
		}
		cancel()
	})

	for _, p := range s.Periodic {
		g.Add(func() error {
			t := time.NewTicker(p.Every)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					p.Func(ctx)
				case <-ctx.Done():
					return nil
				}
			}
		}, func(error) { cancel() })
	}
	g.Run()
	return status
}
