package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/oklog/run"
)

// Crash-loop brake: this many crashes within crashWindow of running time
// stop the supervisor (see crashLoop).
const (
	crashLimit  = 5
	crashWindow = 10 * time.Second
	readyWait   = 30 * time.Second
)

// supervisor keeps the listening socket, runs the server process as
// -u/-g, restarts it when it crashes and replaces it on SIGHUP. It stays
// with the starting user (root for a system service), which is what lets a
// restart happen after privileges were dropped.
type supervisor struct {
	ctx        context.Context // Run's: its end stops the server, as SIGTERM does
	s          *Server
	cfg        *Config
	cred       *credentials
	ul         *net.UnixListener
	keepSocket bool // systemd's socket: never unlink
	pf         *pidfile
	log        *slog.Logger
	cleaned    bool
	sd         *sdReports // STATUS= and watchdog, under systemd

	// For the control socket (control.go): what happened so far, the
	// socket itself (nil when there is none) and the server processes'
	// heartbeats (nil when nobody listens to them).
	started time.Time
	led     *ledger
	ctl     *controlSocket
	beats   *heartbeats
}

// superviseDetached is the daemon stage: it adopts what start passed on.
func superviseDetached(ctx context.Context, s *Server, cfg *Config) int {
	ready := readyPipe()
	report := func(err error) { writeReport(ready, err) }
	l, err := net.FileListener(os.NewFile(fdListener, "listener"))
	if err != nil {
		report(fmt.Errorf("cannot adopt the socket: %v", err))
		return 1
	}
	ul, ok := l.(*net.UnixListener)
	if !ok {
		report(fmt.Errorf("inherited socket is not a unix listener"))
		return 1
	}
	sv := &supervisor{ctx: ctx, s: s, cfg: cfg, ul: ul, keepSocket: isSystemdSocket()}
	if path := os.Getenv(pidfileEnv); path != "" {
		sv.pf = adoptPidfile(os.NewFile(fdPidfile, path), path)
	}
	// The starter exits as soon as it reads the report, so a failed start
	// removes the socket and pidfile first: nothing is left half-started.
	failed := func(err error) int {
		sv.cleanup()
		report(err)
		return 1
	}
	if sv.pf != nil {
		if err := sv.pf.write(os.Getpid()); err != nil {
			return failed(fmt.Errorf("cannot write pidfile %s: %v", sv.pf.path, err))
		}
	}
	if os.Geteuid() == 0 {
		if sv.cred, err = lookupCredentials(cfg.User, cfg.Group); err != nil {
			return failed(err)
		}
	}
	if sv.run(report) != nil {
		return 1
	}
	return 0
}

// run supervises until SIGTERM (or SIGINT in the foreground) or the end of
// sv.ctx, then stops the server gracefully and removes the socket and the
// pidfile. report, when not nil, learns whether the first server process
// came up. The error is what stopped the supervisor otherwise.
func (sv *supervisor) run(report func(error)) error {
	if sv.log == nil {
		sv.log = sv.logger()
	}
	defer sv.cleanup()
	defer sv.startSystemdReports()()
	// Catch the signals before anything runs: their default action would
	// kill the supervisor and leave the socket and pidfile behind.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(stop)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	failed := func(err error) error {
		sv.log.Error("server did not start", "err", err)
		sv.cleanup() // before reporting: the starter exits on the report
		if report != nil {
			report(err)
		}
		return err
	}
	if err := sv.startControl(); err != nil {
		return failed(err)
	}
	sv.startHeartbeats()
	first, err := sv.startServer()
	if err != nil {
		return failed(err)
	}
	if report != nil {
		report(nil)
	}
	notify("READY=1")
	sv.log.Info("accepting", "socket", sv.ul.Addr().String(), "pid", first.cmd.Process.Pid)

	var g run.Group
	ctx, cancel := context.WithCancel(context.Background())
	g.Add(func() error {
		select {
		case sig := <-stop:
			sv.log.Info("stopping", "signal", sig.String())
			return nil
		case <-sv.ctx.Done():
			sv.log.Info("stopping", "reason", "the context of Run ended")
			return nil
		case <-ctx.Done():
			return nil
		}
	}, func(error) { cancel() })

	g.Add(func() error {
		return sv.supervise(ctx, first, hup)
	}, func(error) { cancel() })
	return g.Run() // the first actor to return: nil when asked to stop
}

// supervise restarts crashed servers and replaces the server on SIGHUP
// until ctx ends, then stops the server.
func (sv *supervisor) supervise(ctx context.Context, cur *child, hup <-chan os.Signal) error {
	var crashes crashLoop
	var old []*child // replaced servers still draining
	for {
		sv.led.serving(cur, old)
		select {
		case <-ctx.Done():
			sv.led.setStopping()
			notify("STOPPING=1")
			sv.stopAll(append(old, cur))
			return nil

		case <-hup:
			notify("RELOADING=1")
			next, err := sv.startServer()
			if err != nil {
				sv.led.upgraded(cur, nil, err)
				sv.log.Error("upgrade failed: the running server keeps serving", "err", err)
				notify("READY=1")
				continue
			}
			sv.log.Info("upgraded: the new server accepts, the old one drains",
				"new", next.cmd.Process.Pid, "old", cur.cmd.Process.Pid)
			cur.cmd.Process.Signal(sigReplaced)
			old = append(old, cur)
			sv.led.serving(next, old)
			sv.led.upgraded(cur, next, nil)
			cur = next
			notify("READY=1")

		case <-cur.done:
			if cur.exitedCleanly() {
				sv.log.Info("server exited", "pid", cur.cmd.Process.Pid)
				return nil
			}
			sv.led.crashed()
			next, err := sv.restart(ctx, &crashes, cur)
			if err != nil {
				return err
			}
			if next == nil { // stopped during the pause
				sv.led.setStopping()
				notify("STOPPING=1")
				sv.stopAll(old)
				return nil
			}
			cur = next
			sv.led.serving(cur, old)
			sv.led.restarted()
		}
		old = reap(old)
	}
}

// stopAll asks every server process to stop gracefully and kills those
// that outlive the drain.
func (sv *supervisor) stopAll(children []*child) {
	for _, c := range children {
		c.cmd.Process.Signal(syscall.SIGTERM)
	}
	deadline := time.After(sv.s.DrainTimeout + 5*time.Second)
	for _, c := range children {
		select {
		case <-c.done:
		case <-deadline:
			sv.log.Error("server did not stop within the drain time; killing it", "pid", c.cmd.Process.Pid)
			c.cmd.Process.Kill()
			<-c.done
		}
	}
}

// reap drops replaced servers that have finished draining.
func reap(old []*child) []*child {
	kept := old[:0]
	for _, c := range old {
		select {
		case <-c.done:
		default:
			kept = append(kept, c)
		}
	}
	return kept
}

// cleanup runs once: a second pass could remove the pidfile of an
// instance that started after this one released its lock.
func (sv *supervisor) cleanup() {
	if sv.cleaned {
		return
	}
	sv.cleaned = true
	sv.ctl.close()
	sv.ul.SetUnlinkOnClose(false)
	sv.ul.Close()
	if !sv.keepSocket {
		os.Remove(sv.ul.Addr().String())
	}
	if sv.pf != nil {
		sv.pf.remove()
	}
}

func (sv *supervisor) logger() *slog.Logger {
	if sv.cfg.Foreground {
		return stderrLogger(sv.s.Name)
	}
	return syslogLogger(sv.s)
}

var errNotReady = errors.New("server process ended before accepting")
