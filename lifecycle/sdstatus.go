package lifecycle

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// statusEvery is how often STATUS= is brought up to date. The figures
// come from the server processes' heartbeats (heartbeat.go).
const statusEvery = 2 * time.Second

// sdReports collects the heartbeats of the server processes and reports
// to systemd.
type sdReports struct {
	beats    chan beat
	every    time.Duration // heartbeat interval
	watchdog time.Duration // WATCHDOG_USEC, or 0
	done     chan struct{}
}

type beat struct {
	pid  int
	live int64
	at   time.Time
}

// startSystemdReports reports to systemd while the supervisor runs, when
// systemd asked for notifications; the returned function stops it.
func (sv *supervisor) startSystemdReports() (stop func()) {
	if os.Getenv("NOTIFY_SOCKET") == "" {
		return func() {}
	}
	r := &sdReports{beats: make(chan beat, 16), every: beatMax, watchdog: watchdogInterval(), done: make(chan struct{})}
	if r.watchdog > 0 {
		r.every = min(r.every, r.watchdog/4)
		sv.log.Info("systemd watchdog", "interval", r.watchdog, "ping", r.watchdog/2)
	}
	sv.sd = r
	go r.run()
	return func() { close(r.done) }
}

// watchdogInterval is systemd's WatchdogSec= as it passes it, when it is
// meant for this process.
func watchdogInterval() time.Duration {
	usec, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || usec <= 0 {
		return 0
	}
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return 0
	}
	return time.Duration(usec) * time.Microsecond
}

// run sends WATCHDOG=1 every half watchdog interval while some server
// process has sent a heartbeat lately, and STATUS= when the figures
// change.
func (r *sdReports) run() {
	status := time.NewTicker(statusEvery)
	defer status.Stop()
	var ping <-chan time.Time
	if r.watchdog > 0 {
		t := time.NewTicker(r.watchdog / 2)
		defer t.Stop()
		ping = t.C
	}
	last := map[int]beat{} // by pid
	// alive drops the server processes that have not beaten for three
	// intervals: they ended, hang or are stopped.
	alive := func() (live int64, procs int) {
		for pid, b := range last {
			if time.Since(b.at) > 3*r.every {
				delete(last, pid)
				continue
			}
			live += b.live
			procs++
		}
		return live, procs
	}
	sent := ""
	for {
		select {
		case <-r.done:
			return
		case b := <-r.beats:
			last[b.pid] = b
		case <-ping:
			if _, procs := alive(); procs > 0 {
				notify("WATCHDOG=1")
			}
		case <-status.C:
			text := "no server process answering"
			switch live, procs := alive(); {
			case procs == 1:
				text = fmt.Sprintf("%d connections", live)
			case procs > 1:
				text = fmt.Sprintf("%d connections in %d server processes (the old ones drain)", live, procs)
			}
			if text != sent {
				notify("STATUS=" + text)
				sent = text
			}
		}
	}
}
