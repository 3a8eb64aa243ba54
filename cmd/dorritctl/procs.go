package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// pollEvery is how often dorritctl looks again at a process it waits for.
const pollEvery = 20 * time.Millisecond

// pidfileHeld reports whether someone holds the lock on a pidfile: while
// a lifecycle supervisor runs it holds an exclusive flock on its pidfile.
// /proc/locks says so without touching the lock; only where it does not
// list the file (no /proc, a file system it names otherwise) is the lock
// tried, which could, for an instant, make a start racing with this one
// think the server runs.
func pidfileHeld(path string) bool {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return false
	}
	if held, ok := lockedInProc(st); ok && held {
		return true
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		return errors.Is(err, unix.EWOULDBLOCK)
	}
	unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return false
}

// lockedInProc looks for a flock on the file st describes in /proc/locks,
// whose lines read "1: FLOCK  ADVISORY  WRITE 812 fe:00:9978634 0 EOF"
// (device major:minor in hex, then the inode).
func lockedInProc(st syscall.Stat_t) (held, ok bool) {
	f, err := os.Open("/proc/locks")
	if err != nil {
		return false, false
	}
	defer f.Close()
	want := fmt.Sprintf("%02x:%02x:%d", unix.Major(uint64(st.Dev)), unix.Minor(uint64(st.Dev)), st.Ino)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[1] == "->" { // "->": a waiter, not a holder
			continue
		}
		if fields[1] == "FLOCK" && fields[5] == want {
			return true, true
		}
	}
	return false, true
}

// alive reports whether process pid exists and is not a zombie (one that
// exited and waits for its parent to notice counts as gone). A process
// whose first thread has exited shows as a zombie while its other threads
// still exit, holding its files (the pidfile's lock, the sockets): it is
// alive until it has one thread left.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return true
	}
	// After the ")" of the name: state is field 0, num_threads 17.
	f := strings.Fields(string(b[i+1:]))
	return len(f) <= 17 || f[0] != "Z" || f[17] != "1"
}

// waitGone waits until none of pids is alive, or ctx ends; every is
// called every tick with the time waited so far, for progress reports.
func waitGone(ctx context.Context, pids []int, tick time.Duration, every func(waited time.Duration)) bool {
	start := time.Now()
	poll := time.NewTicker(pollEvery)
	defer poll.Stop()
	var report <-chan time.Time
	if every != nil && tick > 0 {
		t := time.NewTicker(tick)
		defer t.Stop()
		report = t.C
	}
	for {
		if !anyAlive(pids) {
			return true
		}
		select {
		case <-ctx.Done():
			return !anyAlive(pids)
		case <-poll.C:
		case <-report:
			every(time.Since(start))
		}
	}
}

func anyAlive(pids []int) bool {
	for _, pid := range pids {
		if alive(pid) {
			return true
		}
	}
	return false
}

// leadsGroup reports whether pid leads its process group, as a detached
// lifecycle supervisor does (its server processes are in that group).
func leadsGroup(pid int) bool {
	pgid, err := syscall.Getpgid(pid)
	return err == nil && pgid == pid
}

// signalText names a signal for messages.
func signalText(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	case syscall.SIGKILL:
		return "SIGKILL"
	}
	return sig.String()
}

// signalFailure explains a failed kill(2) and gives the exit status.
func signalFailure(name string, pid int, sig syscall.Signal, err error) (string, int) {
	switch {
	case errors.Is(err, syscall.EPERM):
		return fmt.Sprintf("not allowed to send %s to %s (PID %d, started by another account): run as root (sudo dorritctl …)", signalText(sig), name, pid), exitNoPermission
	case errors.Is(err, syscall.ESRCH):
		return fmt.Sprintf("%s (PID %d) is gone already", name, pid), exitNotRunning
	}
	return fmt.Sprintf("cannot send %s to %s (PID %d): %v", signalText(sig), name, pid, err), exitFailure
}
