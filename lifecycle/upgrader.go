package lifecycle

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/internal/unixsocket"
)

// upgradeEnv describes to a process an Upgrader started what it inherited.
const upgradeEnv = "DORRIT_LIFECYCLE_UPGRADE"

// handover is upgradeEnv's value: the control socket's descriptor and the
// files that follow it.
type handover struct {
	Control int          `json:"control"`
	Files   []handedFile `json:"files"`
}

type handedFile struct {
	FD      int    `json:"fd"`
	Kind    string `json:"kind"` // "listener" or "pidfile"
	Network string `json:"network,omitempty"`
	Addr    string `json:"addr"`
	Systemd bool   `json:"systemd,omitempty"` // systemd's socket: never unlinked
}

// An Upgrader replaces a running daemon by a new binary without refusing a
// connection, for a daemon that keeps its own main (the way
// github.com/cloudflare/tableflip does): every listening socket the daemon
// opens through it — the dorrit socket and the daemon's own, such as the
// TCP port of its HTTP API — is handed to the new process, which opens
// none of them again, so nothing binds twice.
//
// The hand-over is sequential, never two processes accepting at once:
//
//  1. Upgrade (on SIGHUP, say) starts the binary now on disk, with the same
//     arguments and environment, the sockets and the pidfile inherited.
//  2. The new process runs main, gets its sockets from Listen and
//     ListenDorrit, and calls Ready, which tells the old process and then
//     waits.
//  3. Upgrade returns nil and Upgraded is closed in the old process, which
//     stops accepting (its HTTP server stops, dorrit.Listener.Close),
//     finishes the requests it took, lets its accept loop take the
//     handshakes in progress, and calls Release.
//  4. Ready returns in the new process, which starts accepting; the old
//     process drains its connections (dorrit.Listener.Shutdown: queues
//     delivered, then 1001, and the clients reconnect to the new one) and
//     ends.
//
// Meanwhile connection attempts wait in the sockets' backlog: none is
// refused, and whatever the old process did is done before the new one
// takes its first request (examples/notify relies on it: its
// notifications' IDs grow across the upgrade). The wait is short: under
// four clients posting to examples/notify without pause, the slowest
// request across an upgrade took 4 to 6 ms (three runs, 2 cores).
//
// A new process that fails before Ready (exit, crash, no Ready within
// 30 s or before Upgrade's context ends) leaves the old one serving, and
// Upgrade returns what happened; the new process's own messages went to
// the same stderr.
//
// The new process runs as the old one does: after DropPrivileges it cannot
// create root's sockets or take root's pidfile, which is why it inherits
// them, and its binary must be executable by that account.
type Upgrader struct {
	mu        sync.Mutex
	inherited map[string]inheritedFile // from the parent process, by key, not yet taken
	systemd   []net.Listener           // from systemd, not yet taken
	passed    []*passedListener        // what a new process gets
	pidfile   *Pidfile
	parent    *os.File // control socket to the parent process; nil in the first
	ready     bool
	stopped   bool

	stopping     chan struct{} // closed when Stop begins
	stoppingOnce sync.Once
	upgrading    sync.Mutex    // one Upgrade at a time
	upgraded     chan struct{} // closed once a new process is ready
	child        *os.File      // control socket to it, closed by Release
	childPID     int
}

// inheritedFile is a descriptor the parent process passed.
type inheritedFile struct {
	f       *os.File
	systemd bool // systemd's socket, passed on: never unlinked
}

// passedListener is a listener the Upgrader hands on.
type passedListener struct {
	network, addr string
	f             *os.File // a copy of the descriptor, to pass
	systemd       bool
	file          *unixsocket.File // a UNIX socket file to unlink at the end, or nil
}

// upgraderMade is set by the first NewUpgrader: the inherited
// descriptors are adopted once.
var upgraderMade atomic.Bool

// NewUpgrader adopts what this process inherited: from the process whose
// Upgrade started it, or from systemd (socket activation, see
// SystemdListeners). Call it once, early in main, before the sockets are
// opened; a second call fails.
func NewUpgrader() (*Upgrader, error) {
	if !upgraderMade.CompareAndSwap(false, true) {
		return nil, errors.New("lifecycle: NewUpgrader called twice; one Upgrader per process holds its sockets")
	}
	u := &Upgrader{inherited: map[string]inheritedFile{}, upgraded: make(chan struct{}), stopping: make(chan struct{})}
	if v, ok := os.LookupEnv(upgradeEnv); ok {
		os.Unsetenv(upgradeEnv)
		var h handover
		if err := json.Unmarshal([]byte(v), &h); err != nil {
			return nil, fmt.Errorf("%s=%q: %v (set by the process that started this one)", upgradeEnv, v, err)
		}
		// Non-blocking, so that Ready's wait can have a deadline.
		unix.CloseOnExec(h.Control)
		unix.SetNonblock(h.Control, true)
		u.parent = os.NewFile(uintptr(h.Control), "upgrade control")
		for _, hf := range h.Files {
			unix.CloseOnExec(hf.FD)
			u.inherited[hf.key()] = inheritedFile{os.NewFile(uintptr(hf.FD), hf.Addr), hf.Systemd}
		}
	}
	ls, err := SystemdListeners()
	if err != nil {
		return nil, err
	}
	u.systemd = ls
	return u, nil
}

func (hf handedFile) key() string { return hf.Kind + " " + hf.Network + " " + hf.Addr }

// Listen returns the listener for network and address: the one this
// process inherited from the process it replaces, or from systemd (matched
// by address), or else a new one from net.Listen. It is handed to the
// process a later Upgrade starts. Closing it is the caller's, as usual;
// a UNIX socket's file is left in place for the next process (Stop
// removes it when there is none).
func (u *Upgrader) Listen(network, address string) (net.Listener, error) {
	return u.listen(network, address, func() (net.Listener, error) {
		return net.Listen(network, address)
	})
}

// listen is Listen with the new listener made by create.
func (u *Upgrader) listen(network, address string, create func() (net.Listener, error)) (net.Listener, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.stopped {
		return nil, errors.New("lifecycle: Upgrader stopped")
	}
	key := handedFile{Kind: "listener", Network: network, Addr: address}.key()
	if in, ok := u.inherited[key]; ok {
		delete(u.inherited, key)
		l, err := net.FileListener(in.f) // a copy: in.f can go
		in.f.Close()
		if err != nil {
			return nil, fmt.Errorf("inherited %s socket %s: %w", network, address, err)
		}
		return u.pass(network, address, l, in.systemd)
	}
	for i, l := range u.systemd {
		if sameAddress(network, address, l.Addr()) {
			u.systemd = append(u.systemd[:i], u.systemd[i+1:]...)
			return u.pass(network, address, l, true)
		}
	}
	l, err := create()
	if err != nil {
		return nil, err
	}
	return u.pass(network, address, l, false)
}

// ListenDorrit is Listen for the dorrit socket that o describes: new,
// it is created as dorrit.Listen creates it (a stale file replaced, mode
// and owner from o), so call it as root before DropPrivileges. Give it to
// dorrit.Listen as o.Listener once Ready has returned.
func (u *Upgrader) ListenDorrit(o dorrit.Options) (*net.UnixListener, error) {
	spec := socketSpec(o)
	path := spec.Path
	l, err := u.listen("unix", path, func() (net.Listener, error) {
		ul, _, err := unixsocket.Create(spec)
		return ul, err
	})
	if err != nil {
		return nil, err
	}
	ul, ok := l.(*net.UnixListener)
	if !ok {
		l.Close()
		return nil, fmt.Errorf("the socket for %s is a %s socket; dorrit serves UNIX-domain stream sockets only", path, l.Addr().Network())
	}
	return ul, nil
}

// pass keeps a copy of l's descriptor for the next process.
func (u *Upgrader) pass(network, address string, l net.Listener, systemd bool) (net.Listener, error) {
	f, err := dupListener(l)
	if err != nil {
		l.Close()
		return nil, err
	}
	pl := &passedListener{network: network, addr: address, f: f, systemd: systemd}
	if ul, ok := l.(*net.UnixListener); ok {
		// The file outlives this process when a new one took the socket.
		ul.SetUnlinkOnClose(false)
		if !systemd {
			pl.file = unixsocket.Identify(ul.Addr().String())
		}
	}
	u.passed = append(u.passed, pl)
	return l, nil
}

// sameAddress reports whether a listener at got is the one asked for as
// network and address ("localhost:8080" and ":8080" match as net.Listen
// would use them).
func sameAddress(network, address string, got net.Addr) bool {
	switch g := got.(type) {
	case *net.UnixAddr:
		return strings.HasPrefix(network, "unix") && g.Name == address
	case *net.TCPAddr:
		if !strings.HasPrefix(network, "tcp") {
			return false
		}
		want, err := net.ResolveTCPAddr(network, address)
		if err != nil || want.Port != g.Port {
			return false
		}
		if want.IP == nil || want.IP.IsUnspecified() {
			return g.IP.IsUnspecified()
		}
		return want.IP.Equal(g.IP)
	}
	return false
}

// LockPidfile is the package's LockPidfile for a daemon that upgrades: in
// a process an Upgrade started, the pidfile is the inherited one, still
// locked, and Ready writes the new PID into it once the old process has
// let go. A later Upgrade hands it on.
func (u *Upgrader) LockPidfile(path string) (*Pidfile, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	key := handedFile{Kind: "pidfile", Addr: path}.key()
	if in, ok := u.inherited[key]; ok {
		delete(u.inherited, key)
		u.pidfile = &Pidfile{p: adoptPidfile(in.f, path)}
		return u.pidfile, nil
	}
	pf, err := LockPidfile(path)
	if err != nil {
		return nil, err
	}
	u.pidfile = pf
	return pf, nil
}

// HasParent reports whether an Upgrade in another process started this one.
func (u *Upgrader) HasParent() bool { return u.parent != nil }

// Ready says that this process has set up what it needs and can serve.
// In the first process it notifies systemd (READY=1) and returns. In one
// an Upgrade started, it tells the old process, waits until that has
// stopped accepting (its Release or Stop, or its end; at most 30 s), then
// writes this PID into the inherited pidfile and returns: start accepting
// then, not before. Sockets inherited and not asked for are closed.
func (u *Upgrader) Ready() error {
	u.mu.Lock()
	if u.ready {
		u.mu.Unlock()
		return nil
	}
	u.ready = true
	for k, in := range u.inherited {
		in.f.Close()
		delete(u.inherited, k)
	}
	parent, pf := u.parent, u.pidfile
	u.mu.Unlock()
	if parent == nil {
		return Notify("READY=1")
	}
	defer parent.Close()
	if _, err := fmt.Fprintln(parent, readyWord); err != nil {
		return fmt.Errorf("cannot tell the old process that this one is ready: %w", err)
	}
	// The old process closes its end when it lets go; its end closes with
	// it too, so a crash of the old process does not keep this one waiting.
	parent.SetReadDeadline(time.Now().Add(readyWait))
	var b [1]byte
	parent.Read(b[:])
	if pf != nil {
		if err := pf.p.write(os.Getpid()); err != nil {
			return fmt.Errorf("cannot write pidfile %s: %w", pf.p.path, err)
		}
	}
	return nil
}

// Upgraded is closed once Upgrade has succeeded: a new process is ready and
// waits for this one to stop accepting and Release.
func (u *Upgrader) Upgraded() <-chan struct{} { return u.upgraded }

// Release lets the new process start accepting. Call it once this one has
// stopped accepting and finished the requests it took, and before it
// drains its connections, so that their clients find the new process when
// they reconnect. Stop releases too, and so does the end of the process.
func (u *Upgrader) Release() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.child != nil {
		u.child.Close()
		u.child = nil
	}
}

// Stop ends the Upgrader as the process ends: it releases a new process,
// closes the copies of the sockets it kept, and, unless a new process took
// them over, removes the files of the UNIX sockets it created (a process
// that dropped its privileges may not, in a directory of root's: the next
// start replaces a stale socket file). No Upgrade is possible afterwards.
func (u *Upgrader) Stop() {
	u.stoppingOnce.Do(func() { close(u.stopping) })
	u.upgrading.Lock() // an Upgrade in progress ends first
	defer u.upgrading.Unlock()
	u.Release()
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.stopped {
		return
	}
	u.stopped = true
	handedOn := u.childPID != 0
	for _, pl := range u.passed {
		pl.f.Close()
		if !handedOn && pl.file != nil {
			pl.file.Remove()
		}
	}
	for _, l := range u.systemd {
		l.Close()
	}
	if u.parent != nil && !u.ready {
		u.parent.Close()
	}
}

// readLine reads the new process's word on the control socket.
func readLine(f *os.File) (string, error) {
	line, err := bufio.NewReader(f).ReadString('\n')
	return strings.TrimSpace(line), err
}
