package lifecycle

import (
	"context"
	"fmt"
	"time"
)

// Restart pauses: the first restart after a crash waits firstPause, each
// further crash in a row doubles it up to maxPause. A server process that
// ran for crashWindow before it crashed starts a new row. The pause keeps a
// server that dies at once from burning a core and flooding the log, and
// the listening socket stays open meanwhile, so connection attempts wait
// in its backlog instead of being refused.
const (
	firstPause = 100 * time.Millisecond
	maxPause   = 5 * time.Second
)

// crashLoop is the supervisor's memory of recent crashes: it says how long
// to pause before the next restart and when to give up.
//
// The brake (crashLimit crashes within crashWindow) counts the time server
// processes ran, not the pauses between them: with the pauses counted, a
// row of pauses could spread crashes over more than the window and the
// brake would never act. A server that crashes at once is so stopped at
// its fifth crash, after pauses of 0.1, 0.2, 0.4 and 0.8 s, whatever the
// pauses add up to.
type crashLoop struct {
	crashes []time.Time   // when each recent crash happened, shifted back by the pauses before it
	paused  time.Duration // total of the pauses so far
	row     int           // crashes in a row, each after a run shorter than crashWindow
}

// crashed records a crash of a process that ran for ran, and says how long
// to pause before the restart, how many crashes the brake counts now and
// whether it stops the supervisor.
func (l *crashLoop) crashed(now time.Time, ran time.Duration) (pause time.Duration, recent int, stop bool) {
	at := now.Add(-l.paused)
	l.crashes = append(l.crashes, at)
	for at.Sub(l.crashes[0]) > crashWindow {
		l.crashes = l.crashes[1:]
	}
	if len(l.crashes) >= crashLimit {
		return 0, len(l.crashes), true
	}
	if ran >= crashWindow {
		l.row = 0
	}
	pause = firstPause << min(l.row, 16)
	l.row++
	return min(pause, maxPause), len(l.crashes), false
}

// pause waits d, or less if ctx ends first; it reports whether the wait
// was complete.
func (l *crashLoop) pause(ctx context.Context, d time.Duration) bool {
	start := time.Now()
	defer func() { l.paused += time.Since(start) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// restart replaces a server process that crashed: it pauses, starts a new
// one and retries a failed start the same way, until one accepts, the
// brake says stop (an error: the supervisor gives up) or ctx ends during a
// pause (nil, nil: the supervisor is stopping).
func (sv *supervisor) restart(ctx context.Context, loop *crashLoop, crashed *child) (*child, error) {
	pid, last := crashed.cmd.Process.Pid, crashed.describeExit()
	ran := time.Since(crashed.started)
	var startErr error
	for {
		pause, recent, stop := loop.crashed(time.Now(), ran)
		if stop {
			err := fmt.Errorf("server crashed %d times within %v (pauses between restarts not counted; last: %s); giving up: find the cause in the log above, then start it again", recent, crashWindow, last)
			if startErr != nil {
				err = fmt.Errorf("server cannot be restarted (%d failures within %v; last: %v); giving up: the socket is closed", recent, crashWindow, startErr)
			}
			sv.log.Error(err.Error())
			return nil, err
		}
		if startErr == nil {
			sv.log.Error("server crashed; restarting on the same socket",
				"pid", pid, "exit", last, "delay", pause, "crashes", fmt.Sprintf("%d of %d within %v", recent, crashLimit, crashWindow))
		} else {
			sv.log.Error("restart failed; trying again", "err", startErr, "delay", pause,
				"crashes", fmt.Sprintf("%d of %d within %v", recent, crashLimit, crashWindow))
		}
		if !loop.pause(ctx, pause) {
			return nil, nil
		}
		next, err := sv.startServer()
		if err == nil {
			sv.log.Info("server restarted", "pid", next.cmd.Process.Pid, "after", pause)
			return next, nil
		}
		startErr, last, ran = err, err.Error(), 0
	}
}
