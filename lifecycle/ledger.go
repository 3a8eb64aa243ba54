package lifecycle

import (
	"os"
	"reflect"
	"sync"
	"time"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/internal/control"
)

// freshBeatWait bounds how long a status waits for the heartbeats it asked
// for; a server process too busy to answer in time is reported with its
// latest figures and their age.
const freshBeatWait = 300 * time.Millisecond

// ledger is what the supervisor knows for its control socket: which server
// processes run, their latest figures, and what happened so far. The
// supervise loop writes it, heartbeat readers add figures, and status
// requests read it, each under mu.
type ledger struct {
	mu       sync.Mutex
	cur      *child
	old      []*child // replaced by an upgrade; those not yet done drain
	stopping bool

	crashes, crashRestarts, upgrades, attempts int
	lastUpgrade                                *control.Upgrade

	beating map[int]*beating // by pid
	retired dorrit.Stats     // ended server processes, as of their last heartbeat
}

// beating is one server process's heartbeat connection and latest figures.
type beating struct {
	pid   int
	conn  *os.File // the supervisor's end: a byte written asks for a heartbeat now
	stats dorrit.Stats
	at    time.Time
	fresh chan struct{} // closed at the next heartbeat
}

func newLedger() *ledger { return &ledger{beating: map[int]*beating{}} }

// serving records the server process that accepts and those that drain.
func (l *ledger) serving(cur *child, old []*child) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cur, l.old = cur, append([]*child(nil), old...)
}

func (l *ledger) setStopping() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stopping = true
}

// crashed counts a server process that died unasked.
func (l *ledger) crashed() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.crashes++
}

// restarted counts a server process started after a crash.
func (l *ledger) restarted() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.crashRestarts++
}

// upgraded records the outcome of a SIGHUP: next replaced prev, or err
// kept prev serving.
func (l *ledger) upgraded(prev, next *child, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.attempts++
	u := &control.Upgrade{At: time.Now(), OK: err == nil, OldPID: prev.cmd.Process.Pid}
	if err != nil {
		u.Error = err.Error()
	} else {
		l.upgrades++
		u.NewPID = next.cmd.Process.Pid
	}
	l.lastUpgrade = u
}

// beatFrom registers a server process's heartbeat connection at its first
// heartbeat.
func (l *ledger) beatFrom(pid int, conn *os.File) *beating {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := &beating{pid: pid, conn: conn, fresh: make(chan struct{})}
	l.beating[pid] = b
	return b
}

// beat records a heartbeat's figures and wakes those waiting for it.
func (l *ledger) beat(b *beating, stats dorrit.Stats) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b.stats, b.at = stats, time.Now()
	close(b.fresh)
	b.fresh = make(chan struct{})
}

// ended folds the figures of a server process whose heartbeat connection
// closed (it exited) into the retired ones. Its gauges are not carried
// over: it holds no connection any more.
func (l *ledger) ended(b *beating) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.beating[b.pid] != b {
		return
	}
	delete(l.beating, b.pid)
	s := b.stats
	s.Live, s.Handshaking, s.QueuedBytes = 0, 0, 0
	addStats(&l.retired, s)
}

// ledgerView is a consistent copy for a status answer.
type ledgerView struct {
	servers                                    []*child
	roles                                      []string
	stats                                      []*dorrit.Stats
	statsAt                                    []time.Time
	total                                      dorrit.Stats
	stopping                                   bool
	crashes, crashRestarts, upgrades, attempts int
	lastUpgrade                                *control.Upgrade
}

// view asks every running server process for a heartbeat, waits up to
// freshBeatWait for them, and copies what the ledger holds then.
func (l *ledger) view() ledgerView {
	l.mu.Lock()
	var waits []chan struct{}
	var conns []*os.File
	for _, c := range l.running() {
		if b := l.beating[c.cmd.Process.Pid]; b != nil {
			waits, conns = append(waits, b.fresh), append(conns, b.conn)
		}
	}
	l.mu.Unlock()
	for _, conn := range conns {
		// Non-blocking: a server process that reads no requests (its
		// socket buffer full) is not waited for here but below, bounded.
		conn.SetWriteDeadline(time.Now().Add(freshBeatWait))
		conn.Write([]byte{'?'})
	}
	deadline := time.NewTimer(freshBeatWait)
	defer deadline.Stop()
wait:
	for _, w := range waits {
		select {
		case <-w:
		case <-deadline.C:
			break wait
		}
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	v := ledgerView{
		total: l.retired, stopping: l.stopping, crashes: l.crashes, crashRestarts: l.crashRestarts,
		upgrades: l.upgrades, attempts: l.attempts, lastUpgrade: l.lastUpgrade,
	}
	running := map[int]bool{}
	for _, c := range l.running() {
		pid := c.cmd.Process.Pid
		running[pid] = true
		role := control.RoleDraining
		if c == l.cur {
			role = control.RoleServing
		}
		v.servers, v.roles = append(v.servers, c), append(v.roles, role)
		var stats *dorrit.Stats
		var at time.Time
		if b := l.beating[pid]; b != nil && !b.at.IsZero() {
			s := b.stats
			stats, at = &s, b.at
		}
		v.stats, v.statsAt = append(v.stats, stats), append(v.statsAt, at)
	}
	// Every process still beating counts in the total, also one that ended
	// a moment ago and whose connection has not closed yet.
	for pid, b := range l.beating {
		s := b.stats
		if !running[pid] {
			s.Live, s.Handshaking, s.QueuedBytes = 0, 0, 0
		}
		addStats(&v.total, s)
	}
	return v
}

// running lists the server processes that have not exited, the one
// serving first. Called with mu held.
func (l *ledger) running() []*child {
	var out []*child
	for _, c := range append([]*child{l.cur}, l.old...) {
		if c == nil {
			continue
		}
		select {
		case <-c.done:
		default:
			out = append(out, c)
		}
	}
	return out
}

// addStats adds every counter of src to dst. It walks the struct, so that
// a figure added to dorrit.Stats is summed without a change here.
func addStats(dst *dorrit.Stats, src dorrit.Stats) {
	addFields(reflect.ValueOf(dst).Elem(), reflect.ValueOf(src))
}

func addFields(dst, src reflect.Value) {
	for i := range dst.NumField() {
		d, s := dst.Field(i), src.Field(i)
		switch d.Kind() {
		case reflect.Struct:
			addFields(d, s)
		case reflect.Int, reflect.Int64, reflect.Int32:
			d.SetInt(d.Int() + s.Int())
		case reflect.Uint, reflect.Uint64, reflect.Uint32:
			d.SetUint(d.Uint() + s.Uint())
		}
	}
}
