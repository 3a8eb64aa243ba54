package lifecycle_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dorritgo/dorrit/internal/testproc"
	"github.com/dorritgo/dorrit/lifecycle"
)

// The tests below run this test binary again as a child process that
// calls one piece and reports on stdout; alacarteChild is what the child
// runs (selected by ALACARTE_CHILD), a test of its own that does nothing
// when run normally.
func TestAlacarteChild(t *testing.T) {
	switch os.Getenv("ALACARTE_CHILD") {
	case "":
		return
	case "drop":
		// A thread locked before the drop must be dropped too: Go applies
		// setuid to every thread.
		locked := make(chan int)
		go func() {
			runtime.LockOSThread()
			locked <- threadID()
			select {}
		}()
		tid := <-locked
		a, err := lifecycle.DropPrivileges(os.Getenv("ALACARTE_USER"), os.Getenv("ALACARTE_GROUP"))
		if err != nil {
			fmt.Printf("error %v|%v\n", errors.Is(err, lifecycle.ErrNotRoot), err)
		} else {
			fmt.Printf("dropped %d %s|%s\n", tid, a, strconv.FormatBool(syscall.Setuid(0) == nil))
		}
	case "pidfile":
		pf, err := lifecycle.LockPidfile(os.Getenv("ALACARTE_PIDFILE"))
		if err != nil {
			fmt.Printf("error %v\n", err)
			os.Exit(1)
		}
		defer pf.Remove()
		fmt.Println("locked")
	}
	io.Copy(io.Discard, os.Stdin) // hold on until the test closes stdin
	os.Exit(0)
}

// child runs TestAlacarteChild as what, with env, and returns its first
// line, its pid and a function that ends it.
func child(t *testing.T, what string, cred *syscall.Credential, env ...string) (line string, pid int, end func()) {
	t.Helper()
	bin := os.Args[0]
	if cred != nil && cred.Uid != 0 {
		bin = reachableTestBinary(t)
	}
	cmd := exec.Command(bin, "-test.run=^TestAlacarteChild$")
	cmd.Env = append(os.Environ(), append(env, "ALACARTE_CHILD="+what)...)
	cmd.Stderr = os.Stderr
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	end = func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	}
	t.Cleanup(end)
	line, _ = bufio.NewReader(stdout).ReadString('\n')
	return strings.TrimSpace(line), cmd.Process.Pid, end
}

// reachableTestBinary is a copy of this test binary that any account can
// execute, beside testserver (go test's own is in a directory of root's).
func reachableTestBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(testproc.Dir(t), "lifecycle.test")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	b, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// threadIDs lists the uid and gid lines and groups of each thread of pid.
func threadIDs(t *testing.T, pid int) map[string]string {
	t.Helper()
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, task.Name()))
		if err != nil {
			continue
		}
		var ids []string
		for line := range strings.SplitSeq(string(b), "\n") {
			if strings.HasPrefix(line, "Uid:") || strings.HasPrefix(line, "Gid:") || strings.HasPrefix(line, "Groups:") {
				ids = append(ids, strings.Join(strings.Fields(line), " "))
			}
		}
		out[task.Name()] = strings.Join(ids, "; ")
	}
	return out
}

// DropPrivileges turns every thread of the process, one locked before the
// drop included, into nobody with the -g defaults, real, effective and
// saved IDs alike, with no supplementary group, and root cannot be taken
// back: checked from outside, in /proc.
func TestDropPrivileges(t *testing.T) {
	needRoot(t)
	if runtime.GOOS != "linux" {
		t.Skip("reads the threads' IDs in Linux's /proc")
	}
	uid, gid := nobodyIDs(t)
	// Started as root with supplementary groups, which must go too.
	line, pid, _ := child(t, "drop", &syscall.Credential{Uid: 0, Gid: 0, Groups: []uint32{4, 100}})
	var tid int
	var rest string
	if _, err := fmt.Sscanf(line, "dropped %d", &tid); err != nil {
		t.Fatalf("child said %q", line)
	}
	rest = line[strings.IndexByte(line[len("dropped "):], ' ')+len("dropped ")+1:]
	desc, regained, _ := strings.Cut(rest, "|")
	if regained != "false" {
		t.Errorf("setuid(0) succeeded after the drop")
	}
	want := fmt.Sprintf("Uid: %[1]s %[1]s %[1]s %[1]s; Gid: %[2]s %[2]s %[2]s %[2]s; Groups:", uid, gid)
	threads := threadIDs(t, pid)
	if _, ok := threads[strconv.Itoa(tid)]; !ok {
		t.Fatalf("the locked thread %d is not among %v", tid, threads)
	}
	for task, ids := range threads {
		if ids != want {
			t.Errorf("thread %s: %q; want %q", task, ids, want)
		}
	}
	if _, err := user.LookupGroup("nobody"); err != nil && !strings.Contains(desc, `no group "nobody" on this system`) {
		t.Errorf("the account does not say why its group was chosen: %q", desc)
	}
	t.Logf("%d threads dropped to %s", len(threads), desc)
}

func TestDropPrivilegesErrors(t *testing.T) {
	needRoot(t)
	uid, gid := nobodyIDs(t)
	nobody := func() *syscall.Credential {
		u, _ := strconv.Atoi(uid)
		g, _ := strconv.Atoi(gid)
		return &syscall.Credential{Uid: uint32(u), Gid: uint32(g), Groups: []uint32{}}
	}
	for _, c := range []struct {
		name      string
		cred      *syscall.Credential
		user, grp string
		want      string
	}{
		{"unknown user", nil, "no-such-user-x", "", `error false|unknown user "no-such-user-x" (-u): create it or name an existing account`},
		{"unknown group", nil, "nobody", "no-such-group-x", `error false|unknown group "no-such-group-x" (-g): create it or name an existing group`},
		{"not root", nobody(), "root", "", "error true|lifecycle: not root: running as uid " + uid},
		{"already the account", nobody(), "nobody", "", "dropped "},
	} {
		t.Run(c.name, func(t *testing.T) {
			line, _, _ := child(t, "drop", c.cred, "ALACARTE_USER="+c.user, "ALACARTE_GROUP="+c.grp)
			if !strings.HasPrefix(line, c.want) {
				t.Errorf("child said %q; want it to begin with %q", line, c.want)
			}
		})
	}
}

// LookupAccount has -u and -g's defaults and errors, and changes nothing.
func TestLookupAccount(t *testing.T) {
	uid, gid := nobodyIDs(t)
	a, err := lifecycle.LookupAccount("", "")
	if err != nil || strconv.Itoa(a.UID) != uid || strconv.Itoa(a.GID) != gid || a.User != "nobody" {
		t.Errorf("LookupAccount(\"\", \"\") = %+v, %v; want nobody (%s:%s)", a, err, uid, gid)
	}
	if _, err := lifecycle.LookupAccount("no-such-user-x", ""); err == nil || !strings.Contains(err.Error(), "create it or name an existing account") {
		t.Errorf("unknown user: %v", err)
	}
	if os.Geteuid() == 0 && (os.Getuid() != 0 || os.Getgid() != 0) {
		t.Errorf("LookupAccount changed the process's IDs")
	}
}

// Two processes and one pidfile: the second is refused with the first
// one's PID and what to do; once the first is gone, even by SIGKILL, the
// pidfile is taken over, and Remove deletes it.
func TestLockPidfileContention(t *testing.T) {
	path := filepath.Join(t.TempDir(), "daemon.pid")
	line, pid, end := child(t, "pidfile", nil, "ALACARTE_PIDFILE="+path)
	if line != "locked" {
		t.Fatalf("first process: %q", line)
	}
	if b, _ := os.ReadFile(path); strings.TrimSpace(string(b)) != strconv.Itoa(pid) {
		t.Errorf("pidfile holds %q; want %d", b, pid)
	}
	line, _, _ = child(t, "pidfile", nil, "ALACARTE_PIDFILE="+path)
	want := fmt.Sprintf("error already running as PID %d (pidfile %s): stop it first, or give a second instance a pidfile of its own", pid, path)
	if line != want {
		t.Errorf("second process: %q\nwant %q", line, want)
	}
	_, err := lifecycle.LockPidfile(path)
	var are *lifecycle.AlreadyRunningError
	if !errors.As(err, &are) || are.PID != pid || !errors.Is(err, lifecycle.ErrAlreadyRunning) {
		t.Errorf("LockPidfile while held: %#v", err)
	}

	end() // SIGKILL: the file stays, the lock goes
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("a killed process's pidfile: %v", err)
	}
	pf, err := lifecycle.LockPidfile(path)
	if err != nil {
		t.Fatalf("after the first process was killed: %v", err)
	}
	if b, _ := os.ReadFile(path); strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Errorf("taken-over pidfile holds %q; want %d", b, os.Getpid())
	}
	if err := pf.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Remove: %v", err)
	}
}

// Notify sends each state as one datagram to NOTIFY_SOCKET, with the
// MONOTONIC_USEC that Type=notify-reload requires after RELOADING=1.
func TestNotify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	got := datagrams(t, path)
	t.Setenv("NOTIFY_SOCKET", path)
	for _, state := range []string{"READY=1", "STATUS=3 connections", "WATCHDOG=1", "STOPPING=1"} {
		if err := lifecycle.Notify(state); err != nil {
			t.Fatal(err)
		}
		if d := expectDatagram(t, got, state); d != state {
			t.Errorf("sent %q, systemd got %q", state, d)
		}
	}
	before := time.Duration(monotonicNow()) / time.Microsecond
	if err := lifecycle.Notify("RELOADING=1"); err != nil {
		t.Fatal(err)
	}
	d := expectDatagram(t, got, "RELOADING=1")
	var usec int64
	if _, err := fmt.Sscanf(d, "RELOADING=1\nMONOTONIC_USEC=%d", &usec); err != nil || usec < int64(before) || usec > int64(before)+int64(time.Minute/time.Microsecond) {
		t.Errorf("RELOADING=1 datagram %q: want MONOTONIC_USEC= now (%d µs)", d, before)
	}

	os.Remove(path) // nobody listens any more
	if err := lifecycle.Notify("READY=1"); err == nil {
		t.Error("Notify to a socket nobody listens on: no error")
	}
	t.Setenv("NOTIFY_SOCKET", "")
	if err := lifecycle.Notify("READY=1"); err != nil {
		t.Errorf("without NOTIFY_SOCKET: %v", err)
	}
}

// WatchdogInterval is WatchdogSec= when it is meant for this process.
func TestWatchdogInterval(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "3000000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	if d := lifecycle.WatchdogInterval(); d != 3*time.Second {
		t.Errorf("WatchdogInterval = %v; want 3s", d)
	}
	t.Setenv("WATCHDOG_PID", "1")
	if d := lifecycle.WatchdogInterval(); d != 0 {
		t.Errorf("WatchdogInterval for another process = %v; want 0", d)
	}
}

// monotonicNow is CLOCK_MONOTONIC, which systemd compares MONOTONIC_USEC with.
func monotonicNow() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}
