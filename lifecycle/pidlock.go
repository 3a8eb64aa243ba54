package lifecycle

import (
	"errors"
	"os"
	"sync"
)

// Pidfile is a locked pidfile holding this process's PID: while it is
// held, LockPidfile in another process fails with *AlreadyRunningError.
// The lock is the kernel's (flock), so it goes with the process however
// the process ends, even by kill -9; the PID inside is for people and
// rc.d scripts.
type Pidfile struct {
	mu         sync.Mutex
	p          *pidfile
	handedOver bool // an Upgrader passed it to a new process, which owns it now
	done       bool
}

// LockPidfile creates or opens path, locks it and writes this process's
// PID into it, replacing what a stale file held. When another process
// holds it, the error is an *AlreadyRunningError with that process's PID
// (errors.Is(err, ErrAlreadyRunning) holds). Lock it before anything
// else starts (before the sockets are created), so that a second instance
// changes nothing; as root, before DropPrivileges, when the directory is
// root's (/run, /var/run).
func LockPidfile(path string) (*Pidfile, error) {
	p, err := lockPidfile(path)
	if err != nil {
		var are *AlreadyRunningError
		if errors.As(err, &are) {
			are.standalone = true
		}
		return nil, err
	}
	if err := p.write(os.Getpid()); err != nil {
		p.remove()
		return nil, err
	}
	return &Pidfile{p: p}, nil
}

// Remove deletes the pidfile and releases the lock; call it last, as the
// process ends. After an Upgrader handed the pidfile to a new process, it
// only lets go of this process's copy: the file and the lock are the new
// process's. A process that dropped its privileges may not remove a file
// in a directory of root's (/run): then the file is emptied, the lock is
// released, and the next LockPidfile takes it over; put the pidfile in a
// directory of the account's own (systemd's RuntimeDirectory=) to have it
// removed. Calling Remove again does nothing.
func (pf *Pidfile) Remove() error {
	pf.mu.Lock()
	defer pf.mu.Unlock()
	if pf.done {
		return nil
	}
	pf.done = true
	if pf.handedOver {
		return pf.p.f.Close()
	}
	err := os.Remove(pf.p.path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		pf.p.f.Truncate(0) // no PID left behind for a script to signal
	} else {
		err = nil
	}
	pf.p.f.Close()
	if errors.Is(err, os.ErrPermission) {
		return nil // emptied and unlocked: as good as removed for the next start
	}
	return err
}
