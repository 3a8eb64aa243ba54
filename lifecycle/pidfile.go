package lifecycle

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// pidfile is /var/run/<name>.pid. The kernel's lock on it says whether a
// server runs; the PID inside is for people and rc.d scripts.
type pidfile struct {
	f    *os.File
	path string
}

// ErrAlreadyRunning is matched (errors.Is) by the *AlreadyRunningError
// returned when another instance holds the pidfile.
var ErrAlreadyRunning = errors.New("lifecycle: already running")

// lockPidfile opens and locks path. The lock travels with the descriptor
// into the detached supervisor, so the first process may exit.
func lockPidfile(path string) (*pidfile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cannot open pidfile: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path)
		f.Close()
		pid, _ := strconv.Atoi(string(bytes.TrimSpace(b)))
		return nil, &AlreadyRunningError{Pidfile: path, PID: pid}
	}
	return &pidfile{f: f, path: path}, nil
}

// adoptPidfile takes over a locked pidfile inherited as a descriptor. An
// inherited descriptor is not close-on-exec: left so, it would reach every
// server process, which runs as -u/-g, could rewrite root's pidfile and
// would hold the lock after the supervisor died.
func adoptPidfile(f *os.File, path string) *pidfile {
	unix.CloseOnExec(int(f.Fd()))
	return &pidfile{f: f, path: path}
}

// write records pid, replacing what a stale file held.
func (p *pidfile) write(pid int) error {
	if err := p.f.Truncate(0); err != nil {
		return err
	}
	_, err := p.f.WriteAt([]byte(strconv.Itoa(pid)+"\n"), 0)
	return err
}

// remove deletes the file while still holding the lock, so that a new
// instance never sees a file that is about to vanish.
func (p *pidfile) remove() {
	os.Remove(p.path)
	p.f.Close()
}
