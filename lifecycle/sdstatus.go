package lifecycle

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dorritgo/dorrit"
	"golang.org/x/sys/unix"
)

// Under systemd only the service's main PID, the supervisor, may send
// notifications (NotifyAccess=main), but the figures and the proof of life
// are in the server processes. So each server process writes a heartbeat
// line on a pipe of its own to the supervisor: its pid and open
// connections. The supervisor turns them into STATUS= and, with
// WatchdogSec=, into WATCHDOG=1.
const (
	beatEnv     = "DORRIT_LIFECYCLE_BEAT" // "<descriptor> <interval>" in a server process
	beatMax     = time.Second             // heartbeat interval, shorter for a short watchdog
	statusEvery = 2 * time.Second         // how often STATUS= is brought up to date
)

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

// passBeatPipe gives cmd, a server process about to start, a pipe to beat
// on, when the supervisor reports to systemd. The caller closes the
// returned write end once the process has started (or failed to).
func (sv *supervisor) passBeatPipe(cmd *exec.Cmd) (*os.File, error) {
	if sv.sd == nil {
		return nil, nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	fd := 3 + len(cmd.ExtraFiles)
	cmd.ExtraFiles = append(cmd.ExtraFiles, w)
	cmd.Env = append(slices.DeleteFunc(slices.Clone(cmd.Env), func(e string) bool {
		return strings.HasPrefix(e, beatEnv+"=")
	}), fmt.Sprintf("%s=%d %v", beatEnv, fd, sv.sd.every))
	go sv.sd.read(r)
	return w, nil
}

// read passes on one server process's heartbeats until it exits.
func (r *sdReports) read(f *os.File) {
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var b beat
		if _, err := fmt.Sscanf(sc.Text(), "%d %d", &b.pid, &b.live); err != nil {
			continue
		}
		b.at = time.Now()
		select {
		case r.beats <- b:
		case <-r.done:
			return
		}
	}
}

// startBeating runs in a server process: when the supervisor asked for
// heartbeats, it writes one at once and then every interval, until the
// process exits or the supervisor is gone.
func startBeating(ln *dorrit.Listener) {
	var fd int
	var every time.Duration
	v, ok := os.LookupEnv(beatEnv)
	if !ok {
		return
	}
	fdText, everyText, _ := strings.Cut(v, " ")
	fd, err := strconv.Atoi(fdText)
	if err == nil {
		every, err = time.ParseDuration(everyText)
	}
	if err != nil || every <= 0 {
		return
	}
	unix.CloseOnExec(fd) // not for what Serve may run
	f := os.NewFile(uintptr(fd), "heartbeat")
	go func() {
		defer f.Close()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if _, err := fmt.Fprintf(f, "%d %d\n", os.Getpid(), ln.Stats().Live); err != nil {
				return
			}
			<-t.C
		}
	}()
}
