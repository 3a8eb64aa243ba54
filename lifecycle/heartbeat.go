package lifecycle

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dorritgo/dorrit"
	"golang.org/x/sys/unix"
)

// The figures are in the server processes, but only the supervisor can
// report them: systemd accepts notifications from the service's main PID
// alone (NotifyAccess=main), and the control socket is the supervisor's.
// So each server process writes heartbeats to the supervisor on a socket
// of its own: a JSON line with its pid and its listener's figures
// (dorrit.Stats), every interval and at once when the supervisor writes a
// byte (a status asks for figures as of now). The supervisor turns them
// into STATUS= and WATCHDOG=1 for systemd, and into the control socket's
// status.
//
// An upgrade replaces the server process, not the supervisor, so a
// supervisor may run a server process of another dorrit version. Each
// side therefore reads the other's format: a server process whose
// beatEnv lacks "json" (an older supervisor) writes "<pid> <live>" lines,
// and the supervisor reads those from an older server process too.
const (
	beatEnv    = "DORRIT_LIFECYCLE_BEAT" // "<descriptor> <interval> json" in a server process
	beatFormat = "json"
	beatMax    = time.Second // heartbeat interval, shorter for a short watchdog
	beatLast   = time.Second // bound on the last heartbeat of an exiting server process
)

// beatLine is one heartbeat.
type beatLine struct {
	PID   int          `json:"pid"`
	Stats dorrit.Stats `json:"stats"`
}

// heartbeats receives the server processes' heartbeats, for systemd and
// for the control socket.
type heartbeats struct {
	every time.Duration
	sd    *sdReports // nil unless systemd asked for notifications
	led   *ledger
}

// startHeartbeats makes server processes beat when someone listens: systemd
// or the control socket.
func (sv *supervisor) startHeartbeats() {
	if sv.sd == nil && sv.ctl == nil {
		return
	}
	hb := &heartbeats{every: beatMax, sd: sv.sd, led: sv.led}
	if sv.sd != nil {
		hb.every = sv.sd.every
	}
	sv.beats = hb
}

// passBeatPipe gives cmd, a server process about to start, a socket to
// beat on, when someone listens. The caller closes the returned end once
// the process has started (or failed to).
func (sv *supervisor) passBeatPipe(cmd *exec.Cmd) (*os.File, error) {
	if sv.beats == nil {
		return nil, nil
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("heartbeat socket: %v", err)
	}
	// The supervisor's end goes through Go's poller, so that a request
	// for a heartbeat can be bounded in time.
	unix.SetNonblock(fds[0], true)
	mine := os.NewFile(uintptr(fds[0]), "heartbeat")
	theirs := os.NewFile(uintptr(fds[1]), "heartbeat")
	fd := 3 + len(cmd.ExtraFiles)
	cmd.ExtraFiles = append(cmd.ExtraFiles, theirs)
	cmd.Env = append(slices.DeleteFunc(slices.Clone(cmd.Env), func(e string) bool {
		return strings.HasPrefix(e, beatEnv+"=")
	}), fmt.Sprintf("%s=%d %v %s", beatEnv, fd, sv.beats.every, beatFormat))
	go sv.beats.read(mine)
	return theirs, nil
}

// read takes one server process's heartbeats until it exits.
func (hb *heartbeats) read(f *os.File) {
	defer f.Close()
	var b *beating
	defer func() {
		if b != nil {
			hb.led.ended(b)
		}
	}()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 4<<10), 64<<10)
	for sc.Scan() {
		line, ok := parseBeat(sc.Bytes())
		if !ok {
			continue
		}
		if b == nil {
			b = hb.led.beatFrom(line.PID, f)
		}
		hb.led.beat(b, line.Stats)
		if hb.sd != nil {
			select {
			case hb.sd.beats <- beat{pid: line.PID, live: line.Stats.Live, at: time.Now()}:
			case <-hb.sd.done:
			}
		}
	}
}

// parseBeat reads a heartbeat in either format.
func parseBeat(text []byte) (beatLine, bool) {
	var l beatLine
	if bytes.HasPrefix(text, []byte("{")) {
		return l, json.Unmarshal(text, &l) == nil && l.PID > 0
	}
	_, err := fmt.Sscanf(string(text), "%d %d", &l.PID, &l.Stats.Live)
	return l, err == nil && l.PID > 0
}

// startBeating runs in a server process: when the supervisor asked for
// heartbeats, it writes one at once, then every interval and whenever the
// supervisor asks, until the process exits or the supervisor is gone. The
// returned function writes the last one, with the final figures, as the
// process exits: the supervisor keeps them in its totals.
func startBeating(ln *dorrit.Listener) (last func()) {
	v, ok := os.LookupEnv(beatEnv)
	if !ok {
		return func() {}
	}
	f := strings.Fields(v)
	if len(f) < 2 {
		return func() {}
	}
	fd, err := strconv.Atoi(f[0])
	if err != nil {
		return func() {}
	}
	every, err := time.ParseDuration(f[1])
	if err != nil || every <= 0 {
		return func() {}
	}
	unix.CloseOnExec(fd) // not for what Serve may run
	if len(f) < 3 || f[2] != beatFormat {
		return beatPlain(os.NewFile(uintptr(fd), "heartbeat"), ln, every)
	}
	// Non-blocking, so that writes can be bounded: a supervisor that
	// stopped reading must not keep this process from exiting.
	unix.SetNonblock(fd, true)
	conn := os.NewFile(uintptr(fd), "heartbeat")

	var mu sync.Mutex
	write := func(within time.Duration) error {
		b, err := json.Marshal(beatLine{PID: os.Getpid(), Stats: ln.Stats()})
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		conn.SetWriteDeadline(time.Now().Add(within))
		_, err = conn.Write(append(b, '\n'))
		return err
	}
	asked := make(chan struct{}, 1)
	go func() {
		buf := make([]byte, 64)
		for {
			if _, err := conn.Read(buf); err != nil {
				return
			}
			select {
			case asked <- struct{}{}:
			default:
			}
		}
	}()
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if err := write(every); err != nil && !os.IsTimeout(err) {
				return
			}
			select {
			case <-t.C:
			case <-asked:
			case <-stop:
				return
			}
		}
	}()
	return func() {
		close(stop)
		<-stopped
		write(beatLast)
	}
}

// beatPlain is the heartbeat a supervisor of an older version reads:
// "<pid> <live>" lines on a pipe.
func beatPlain(f *os.File, ln *dorrit.Listener, every time.Duration) func() {
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
	return func() {}
}
