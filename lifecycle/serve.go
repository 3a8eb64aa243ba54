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

// sigReplaced tells a server process that an upgrade replaced it: a new
// server process accepts on the same socket already.
const sigReplaced = syscall.SIGUSR2

// serve is the server process: it adopts the socket, tells the supervisor it
// accepts, and runs Serve, the periodic functions and ReleaseMemory until
// SIGTERM, the end of runCtx (the ctx of Run in this process), or until it
// was replaced by an upgrade (sigReplaced) and its grace is over.
//
// A replaced server stops accepting at once, but refuses nothing it took
// in: handshakes in progress complete and reach Serve (Listener.Close),
// and every connection keeps being served for UpgradeGrace, so that a
// conversation that began a moment before the upgrade is not cut before
// its answer (20 clients conversing in a loop saw 503s and 1001s before
// their answers within 2 ms of the old server stopping). Then the drain
// closes what is left with 1001 after its queue, as on SIGTERM.
func serve(runCtx context.Context, s *Server, cfg *Config) int {
	signal.Ignore(syscall.SIGHUP) // the supervisor handles upgrades
	if err := armParentDeath(); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", s.Name, err)
		return 1
	}
	ready := readyPipe()
	if cfg.Foreground {
		cfg.Logger = stderrLogger(s.Name)
	} else {
		cfg.Logger = syslogLogger(s)
	}
	inherited := os.NewFile(fdListener, "listener")
	l, err := net.FileListener(inherited)
	// FileListener made its own copy. Closed, the inherited one no longer
	// keeps the socket listening once Shutdown closes the copy, so a
	// draining server whose supervisor is gone leaves nothing that queues
	// connections no one will accept.
	inherited.Close()
	if err != nil {
		writeReport(ready, fmt.Errorf("cannot adopt the socket: %v", err))
		return 1
	}
	o := cfg.Options
	o.Listener, o.Path = l, ""
	ln, err := dorrit.Listen(o)
	if err != nil {
		writeReport(ready, err)
		return 1
	}
	// Caught before READY: from then on the supervisor may ask us to stop.
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGINT)
	replaced := make(chan os.Signal, 1)
	signal.Notify(replaced, sigReplaced)
	writeReport(ready, nil)
	// Deferred, the last heartbeat carries the figures as the drain left
	// them, for the supervisor's totals.
	defer startBeating(ln)()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var g run.Group
	quit := make(chan struct{})
	stoppedAccepting := make(chan struct{}) // closed before ln.Close on an upgrade
	g.Add(func() error {
		select {
		case <-term:
		case <-runCtx.Done():
		case <-quit:
		case <-replaced:
			close(stoppedAccepting)
			ln.Close()
			grace := time.NewTimer(s.UpgradeGrace)
			defer grace.Stop()
			select {
			case <-grace.C:
			case <-term:
			case <-runCtx.Done():
			case <-quit:
			}
		}
		return nil
	}, func(error) { close(quit) })

	status := 0
	g.Add(func() error {
		if err := s.Serve(ctx, ln, cfg); err != nil {
			cfg.Logger.Error("serve", "err", err)
			status = 1
		}
		select {
		case <-stoppedAccepting:
			// Serve's Accept loop ended because an upgrade closed the
			// listener; its connections go on until the grace is over
			// and the drain below ends ctx.
			<-ctx.Done()
		default:
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

	// The process is a dorrit server: its memory policy is lifecycle's.
	g.Add(func() error {
		ReleaseMemory(ctx, ln)
		return nil
	}, func(error) { cancel() })

	for _, p := range cfg.Periodic {
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
