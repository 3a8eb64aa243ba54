package lifecycle_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dorritgo/dorrit/internal/testproc"
	"golang.org/x/sys/unix"
)

// As root: the socket belongs to -u/-g with mode 0770, the server process
// really runs as that account (real, effective, saved and filesystem IDs),
// the supervisor stays root, and SIGTERM removes the socket.
func TestPrivilegeDrop(t *testing.T) {
	needRoot(t)
	sock := filepath.Join(sharedDir(t), "s.sock")
	p, pid := startForeground(t, []string{"TESTSERVER_NAME=ltest-drop"}, "-l", sock, "-u", "nobody")

	fi, err := os.Lstat(sock)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid != 65534 || st.Gid != 65534 || fi.Mode().String() != "Srwxrwx---" {
		t.Fatalf("socket %s owned by %d:%d, want nobody:nogroup (65534:65534) with Srwxrwx---", fi.Mode(), st.Uid, st.Gid)
	}
	if uid, gid := procStatus(t, pid); uid != "65534 65534 65534 65534" || gid != "65534 65534 65534 65534" {
		t.Fatalf("server process %d runs as Uid %q Gid %q, want all 65534", pid, uid, gid)
	}
	id, err := whoami(sock)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(id, "Uid: 65534 65534 65534 65534") || pidOf(id) != pid {
		t.Fatalf("the server answering says %q; want pid %d running as nobody", id, pid)
	}
	if uid, _ := procStatus(t, p.cmd.Process.Pid); uid != "0 0 0 0" {
		t.Fatalf("supervisor runs as %q; it must stay root to restart the server", uid)
	}
	if !strings.Contains(p.stderr(), "init as uid 0") {
		t.Fatalf("Init did not run as root with stderr on the terminal:\n%s", p.stderr())
	}
	if _, err := user.LookupGroup("nobody"); err != nil && !strings.Contains(p.stderr(), `no group "nobody" on this system: running as group`) {
		t.Fatalf("no word about the group fallback:\n%s", p.stderr())
	}
	if _, err := os.Lstat("/var/run/ltest-drop.pid"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("-x wrote a pidfile: %v", err)
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit status %d after SIGTERM", code)
	}
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket left after SIGTERM: %v", err)
	}
}

// Bad accounts and a failing Init stop the start with a clear message and
// leave nothing behind.
func TestStartErrors(t *testing.T) {
	dir := sharedDir(t)
	cases := []struct {
		name string
		root bool
		env  []string
		args []string
		want string
	}{
		{"unknown user", true, nil, []string{"-u", "no-such-user-ltest"}, `unknown user "no-such-user-ltest"`},
		{"unknown group", true, nil, []string{"-g", "no-such-group-ltest"}, `unknown group "no-such-group-ltest"`},
		{"init fails", false, []string{"TESTSERVER_INIT_FAIL=1"}, nil, "init: refusing to start"},
		{"bad buffer size", false, nil, []string{"-b", "5"}, "the buffer size must be 10..65540"},
		{"bad flag", false, nil, []string{"-q"}, "flag provided but not defined: -q"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.root {
				needRoot(t)
			}
			sock := filepath.Join(dir, "s.sock")
			cmd := exec.Command(testserver, append([]string{"-x", "-l", sock}, tc.args...)...)
			cmd.Env = append(os.Environ(), append(tc.env, "TESTSERVER_NAME=ltest-err")...)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() == 0 {
				t.Fatalf("start succeeded (%v); output:\n%s", err, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Fatalf("output does not say %q:\n%s", tc.want, out)
			}
			if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("a failed start left the socket behind")
			}
		})
	}
}

// Daemon mode: the start command returns 0 once the server accepts; the
// supervisor leads its own session and holds the pidfile lock; a second
// start is refused without touching the pidfile; SIGTERM cleans up.
func TestDaemonPidfile(t *testing.T) {
	needRoot(t)
	dir := sharedDir(t)
	sock, pidPath := filepath.Join(dir, "s.sock"), filepath.Join(dir, "ltest-daemon.pid")
	env := append(os.Environ(), "TESTSERVER_NAME=ltest-daemon", "TESTSERVER_PIDDIR="+dir)
	startCmd := func() ([]byte, error) {
		cmd := exec.Command(testserver, "-l", sock)
		cmd.Env = env
		return cmd.CombinedOutput()
	}
	if out, err := startCmd(); err != nil {
		t.Fatalf("start: %v\n%s", err, out)
	}
	b, err := os.ReadFile(pidPath)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pidfile holds %q", b)
	}
	testproc.Tie(t, pid) // the daemon leads its own process group
	if syscall.Kill(pid, 0) != nil {
		t.Fatalf("pidfile names %d, which is not running", pid)
	}
	if sid, _ := unix.Getsid(pid); sid != pid {
		t.Fatalf("daemon %d is in session %d; it must lead its own session", pid, sid)
	}
	f, _ := os.Open(pidPath)
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); !errors.Is(err, unix.EWOULDBLOCK) {
		t.Fatalf("pidfile not locked by the daemon: %v", err)
	}
	f.Close()
	if _, err := whoami(sock); err != nil {
		t.Fatalf("daemon does not serve: %v", err)
	}

	out, err := startCmd()
	if err == nil || !strings.Contains(string(out), fmt.Sprintf("already running as PID %d", pid)) {
		t.Fatalf("second start: %v\n%s", err, out)
	}
	if b2, _ := os.ReadFile(pidPath); string(b2) != string(b) {
		t.Fatalf("the losing start changed the pidfile: %q", b2)
	}

	syscall.Kill(pid, syscall.SIGTERM)
	waitGone(t, pid)
	for _, path := range []string{sock, pidPath} {
		if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s left after SIGTERM", path)
		}
	}
}

// A pidfile nobody holds a lock on is stale and taken over.
func TestStalePidfile(t *testing.T) {
	needRoot(t)
	dir := sharedDir(t)
	sock, pidPath := filepath.Join(dir, "s.sock"), filepath.Join(dir, "ltest-stale.pid")
	os.WriteFile(pidPath, []byte("999999999\n"), 0o644)
	cmd := exec.Command(testserver, "-l", sock)
	cmd.Env = append(os.Environ(), "TESTSERVER_NAME=ltest-stale", "TESTSERVER_PIDDIR="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("start over a stale pidfile: %v\n%s", err, out)
	}
	b, _ := os.ReadFile(pidPath)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid == 999999999 || syscall.Kill(pid, 0) != nil {
		t.Fatalf("pidfile holds %q, not the new daemon", b)
	}
	syscall.Kill(pid, syscall.SIGTERM)
	waitGone(t, pid)
}

// kill -SEGV of the server process under load: it is restarted on the same
// socket and no connection attempt is refused meanwhile.
func TestCrashRestartRefusesNothing(t *testing.T) {
	sock := filepath.Join(sharedDir(t), "s.sock")
	p, pid := startForeground(t, []string{"TESTSERVER_NAME=ltest-crash"}, "-l", sock)
	l := startLoad(sock, 4)
	waitFor(t, "answers from the first server", func() bool { return l.servedBy(func(p int) bool { return p == pid }) })
	syscall.Kill(pid, syscall.SIGSEGV)
	waitFor(t, "answers from a restarted server", func() bool { return l.servedBy(func(p int) bool { return p != pid }) })
	refused, cut, pids := l.finish()
	if refused != 0 {
		t.Fatalf("%d connection attempts refused during the restart (%d cut in flight, answers by pid %v)", refused, cut, pids)
	}
	p.waitLine(t, regexp.MustCompile(`server crashed; restarting`))
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit status %d", code)
	}
}

// SIGHUP starts a new server process on the same socket and lets the old one
// drain. 20 clients conversing in a loop through two upgrades see no
// refused connect, no failed handshake (503) and no conversation cut before
// its answer: a connection either server took in is served in full.
func TestUpgradeRefusesNothing(t *testing.T) {
	sock := filepath.Join(sharedDir(t), "s.sock")
	p, pid := startForeground(t, []string{"TESTSERVER_NAME=ltest-hup"}, "-l", sock)
	l := startLoad(sock, 20)
	served := map[int]bool{pid: true}
	for range 2 {
		waitFor(t, "answers from the current server", func() bool { return l.servedBy(func(p int) bool { return p == pid }) })
		p.cmd.Process.Signal(syscall.SIGHUP)
		waitFor(t, "answers from the new server", func() bool {
			return l.servedBy(func(p int) bool {
				if !served[p] {
					pid = p
					return true
				}
				return false
			})
		})
		served[pid] = true
	}
	waitFor(t, "answers from the last server", func() bool { return l.servedBy(func(p int) bool { return p == pid }) })
	if refused, failed, _ := l.finish(); refused+failed != 0 {
		t.Fatalf("upgrade: %s", l.report())
	}
	t.Logf("upgrade: %s", l.report())
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit status %d", code)
	}
}

// A server that keeps crashing makes the supervisor give up, saying why.
func TestCrashLoopStops(t *testing.T) {
	sock := filepath.Join(sharedDir(t), "s.sock")
	p := runServer(t, []string{"TESTSERVER_NAME=ltest-loop", "TESTSERVER_CRASH=1"}, "-x", "-l", sock)
	p.waitLine(t, regexp.MustCompile(`crashed 5 times within 10s.*giving up`))
	<-p.done
	if code := p.cmd.ProcessState.ExitCode(); code == 0 {
		t.Fatal("supervisor exited 0 after giving up")
	}
}

// Periodic functions run in the server process.
func TestPeriodic(t *testing.T) {
	dir := sharedDir(t)
	tick := filepath.Join(dir, "ticks")
	p, _ := startForeground(t, []string{"TESTSERVER_NAME=ltest-tick", "TESTSERVER_TICK_FILE=" + tick}, "-l", filepath.Join(dir, "s.sock"))
	waitFor(t, "three ticks", func() bool {
		b, _ := os.ReadFile(tick)
		return strings.Count(string(b), "tick") >= 3
	})
	p.stop(t)
}

// A Periodic's interval may come from the application's own flag:
// Configure adds the Periodic once the command line is parsed, in the
// server process too (the test server's -tick defaults to no ticks).
func TestPeriodicIntervalFromAFlag(t *testing.T) {
	dir := sharedDir(t)
	tick := filepath.Join(dir, "ticks")
	p, _ := startForeground(t, []string{"TESTSERVER_NAME=ltest-tickflag", "TESTSERVER_TICK_FILE=" + tick, "TESTSERVER_TICK_FLAG=1"},
		"-l", filepath.Join(dir, "s.sock"), "-tick", "20ms")
	waitFor(t, "three ticks", func() bool {
		b, _ := os.ReadFile(tick)
		return strings.Count(string(b), "tick") >= 3
	})
	p.stop(t)
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 20s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A server process that cannot start makes the daemon's start command fail
// with the reason, not claim success: here the binary (mode 0700) is not
// executable by the account the server runs as.
func TestDaemonReportsStartFailure(t *testing.T) {
	needRoot(t)
	dir := sharedDir(t)
	bin := copyTestserver(t, dir, 0o700)
	sock := filepath.Join(dir, "s.sock")
	cmd := exec.Command(bin, "-l", sock)
	cmd.Env = append(os.Environ(), "TESTSERVER_NAME=ltest-nostart", "TESTSERVER_PIDDIR="+dir)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("start reported success:\n%s", out)
	}
	if !strings.Contains(string(out), "must be executable by that account") {
		t.Fatalf("start failed without saying why:\n%s", out)
	}
	for _, path := range []string{sock, filepath.Join(dir, "ltest-nostart.pid")} {
		if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s left behind by a failed start", path)
		}
	}
}

// SIGTERM drains: an open connection gets its pending answer, then 1001.
func TestStopDrainsConnections(t *testing.T) {
	sock := filepath.Join(sharedDir(t), "s.sock")
	p, _ := startForeground(t, []string{"TESTSERVER_NAME=ltest-drain"}, "-l", sock)
	c, _, err := dialRaw(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := c.WriteText([]byte("last words")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := c.ReadMessage(); err != nil || string(msg) != "last words" {
		t.Fatalf("echo: %q %v", msg, err)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	code, _, _, err := c.ExpectClose(10 * time.Second)
	if err != nil || code != 1001 {
		t.Fatalf("on SIGTERM the client got close %d (%v), want 1001", code, err)
	}
	c.WriteClose(1001, "")
	<-p.done
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit status %d", code)
	}
}
