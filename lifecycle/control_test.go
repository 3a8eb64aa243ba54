//go:build linux

package lifecycle_test

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dorritgo/dorrit/internal/control"
	"github.com/dorritgo/dorrit/internal/wstest"
)

// askControl asks a control socket for the status.
func askControl(t *testing.T, path string) *control.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := control.Ask(ctx, path, "status")
	if err != nil {
		t.Fatalf("status from %s: %v", path, err)
	}
	return st
}

// waitStatus asks until ok accepts the status, for at most 20 s.
func waitStatus(t *testing.T, path, what string, ok func(*control.Status) bool) *control.Status {
	t.Helper()
	var st *control.Status
	waitFor(t, what, func() bool {
		st = askControl(t, path)
		return ok(st)
	})
	return st
}

// askAs runs testserver as a control client under uid:gid (with the
// supplementary groups given) and returns what it printed and whether it
// succeeded.
func askAs(t *testing.T, path string, uid, gid uint32, groups ...uint32) (string, bool) {
	t.Helper()
	cmd := exec.Command(testserver)
	cmd.Env = append(os.Environ(), "TESTSERVER_ASK="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: groups}}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running the control client as %d:%d: %v", uid, gid, err)
	}
	return strings.TrimSpace(string(out)), err == nil
}

// A daemon serves its control socket beside its pidfile: root's, mode
// 0700, removed on stop. Its status names the processes, the command line
// and the socket, and carries the server process's live figures, the
// upgrades and the crash restarts as they happen.
func TestControlSocket(t *testing.T) {
	needRoot(t)
	d := newDaemon(t, "ltest-ctl")
	supervisor := d.start(t)
	ctl := filepath.Join(d.dir, "ltest-ctl.ctl")

	fi, err := os.Lstat(ctl)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); fi.Mode().String() != "Srwx------" || st.Uid != 0 {
		t.Fatalf("control socket %s is %v owned by uid %d; want Srwx------ and root's", ctl, fi.Mode(), st.Uid)
	}
	id, err := whoami(d.sock)
	if err != nil {
		t.Fatal(err)
	}
	server := pidOf(id)

	st := askControl(t, ctl)
	if st.Name != "ltest-ctl" || st.Mode != control.ModeDaemon || st.Supervisor.PID != supervisor ||
		st.Supervisor.User != "root" || st.Supervisor.Pidfile != d.pidPath || st.Supervisor.Control != ctl {
		t.Fatalf("status: %+v", st)
	}
	if st.Supervisor.Binary != testserver || !slices.Equal(st.Supervisor.Args, []string{"-l", d.sock}) {
		t.Fatalf("status has the command line %s %q, want %s [-l %s]", st.Supervisor.Binary, st.Supervisor.Args, testserver, d.sock)
	}
	if s := st.Socket; s.Path != d.sock || s.Mode != "srwxrwx---" || s.UID != 65534 {
		t.Fatalf("status has the socket %+v, want %s srwxrwx--- owned by nobody", s, d.sock)
	}
	if sp := st.Serving(); sp == nil || sp.PID != server || sp.User != "nobody" || len(st.Servers) != 1 {
		t.Fatalf("status has the server processes %+v, want PID %d as nobody", st.Servers, server)
	}

	// Three clients: the status sees them at once, and their messages.
	var clients []*wstest.Conn
	for range 3 {
		c, _, err := dialRaw(d.sock)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		if err := c.WriteText([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		if _, msg, err := c.ReadMessage(); err != nil || string(msg) != "hello" {
			t.Fatalf("echo: %q %v", msg, err)
		}
		clients = append(clients, c)
	}
	st = askControl(t, ctl)
	if s := st.Serving().Stats; s == nil || s.Live != 3 || s.MessagesIn < 3 || s.MessagesOut < 3 {
		t.Fatalf("with 3 clients open, each after an echo, the status says %+v", s)
	}
	if st.Total.Live != 3 {
		t.Fatalf("total %+v, want 3 live", st.Total)
	}

	// An upgrade: a new serving PID, the old one draining its clients.
	syscall.Kill(supervisor, syscall.SIGHUP)
	st = waitStatus(t, ctl, "an upgrade in the status", func(st *control.Status) bool { return st.UpgradeAttempts == 1 })
	u := st.LastUpgrade
	if st.Upgrades != 1 || u == nil || !u.OK || u.OldPID != server || u.NewPID == server || st.Serving().PID != u.NewPID {
		t.Fatalf("after SIGHUP: upgrades %d, last %+v, serving %+v", st.Upgrades, u, st.Serving())
	}
	for _, c := range clients {
		if code, _, _, err := c.ExpectClose(10 * time.Second); err != nil || code != 1001 {
			t.Fatalf("a client of the replaced server process got %d (%v), want 1001", code, err)
		}
		c.WriteClose(1001, "")
	}
	waitGone(t, server)
	st = waitStatus(t, ctl, "the replaced server process gone from the status", func(st *control.Status) bool {
		return len(st.Servers) == 1 && st.Total.Accepted >= 4 && st.Total.MessagesIn >= 4
	})
	if st.Total.Live != 0 {
		t.Fatalf("total after the drain: %+v", st.Total)
	}

	// A crash: counted, restarted, and the figures before it kept (as of
	// the last heartbeat, which this status asks for).
	upgraded := st.Serving().PID
	c, _, err := dialRaw(d.sock)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.WriteText([]byte("hello"))
	if _, _, err := c.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	if st := askControl(t, ctl); st.Total.Accepted < 5 {
		t.Fatalf("a fifth client is open, and the total says %+v", st.Total)
	}
	c.WriteText([]byte("panic"))
	c.Close()
	st = waitStatus(t, ctl, "a crash restart in the status", func(st *control.Status) bool {
		return st.CrashRestarts == 1 && st.Serving() != nil && st.Serving().PID != upgraded
	})
	if st.Crashes != 1 || st.Total.Accepted < 5 {
		t.Fatalf("after a crash: %d crashes, total %+v", st.Crashes, st.Total)
	}

	syscall.Kill(supervisor, syscall.SIGTERM)
	waitGone(t, supervisor)
	for _, path := range []string{ctl, d.pidPath, d.sock} {
		if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s left after SIGTERM", path)
		}
	}
}

// The control socket is private: the server's own account (nobody, which
// reaches the public socket) gets EACCES; and were the mode opened, the
// supervisor would still answer root alone.
func TestControlSocketPrivate(t *testing.T) {
	needRoot(t)
	d := newDaemon(t, "ltest-ctlpriv")
	supervisor := d.start(t)
	ctl := filepath.Join(d.dir, "ltest-ctlpriv.ctl")

	// nobody in nogroup: the public socket's owner and group.
	sock, err := os.Lstat(d.sock)
	if err != nil {
		t.Fatal(err)
	}
	gid := sock.Sys().(*syscall.Stat_t).Gid
	if out, ok := askAs(t, ctl, 65534, gid, gid); ok || !strings.Contains(out, "permission denied") {
		t.Fatalf("as nobody in the socket's group the control socket answered (%v): %s", ok, out)
	}
	if out, ok := askAs(t, ctl, 0, 0); !ok || out != "pid "+strconv.Itoa(supervisor) {
		t.Fatalf("root got %q", out)
	}
	os.Chmod(ctl, 0o777)
	if out, ok := askAs(t, ctl, 65534, gid, gid); ok || !strings.Contains(out, "answers root") {
		t.Fatalf("with the mode opened, nobody got %q (%v), want a refusal by peer credentials", out, ok)
	}
}

// With -x by hand there is no control socket; under systemd (here
// NOTIFY_SOCKET, with nothing listening) there is, in PidDir, but never
// one taken from another server of the same name. One left by a killed
// daemon is replaced by the next start.
func TestControlSocketForeground(t *testing.T) {
	needRoot(t)
	dir := sharedDir(t)
	ctl := filepath.Join(dir, "ltest-ctlfg.ctl")
	env := []string{"TESTSERVER_NAME=ltest-ctlfg", "TESTSERVER_PIDDIR=" + dir}

	plain, _ := startForeground(t, env, "-l", filepath.Join(dir, "x.sock"))
	if _, err := os.Lstat(ctl); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("-x by hand made a control socket (%v)", err)
	}
	plain.stop(t)

	sd := append(env, "NOTIFY_SOCKET="+filepath.Join(dir, "notify"))
	first, _ := startForeground(t, sd, "-l", filepath.Join(dir, "a.sock"))
	st := askControl(t, ctl)
	if st.Mode != control.ModeSystemd || st.Supervisor.PID != first.cmd.Process.Pid || st.Supervisor.Pidfile != "" {
		t.Fatalf("status under systemd: mode %q, supervisor %+v", st.Mode, st.Supervisor)
	}
	second, _ := startForeground(t, sd, "-l", filepath.Join(dir, "b.sock"))
	second.waitLine(t, regexp.MustCompile(`no control socket.*in use: a server named ltest-ctlfg runs`))
	if st := askControl(t, ctl); st.Supervisor.PID != first.cmd.Process.Pid {
		t.Fatalf("the second server took the control socket: %+v", st.Supervisor)
	}
	second.stop(t)
	if st := askControl(t, ctl); st.Supervisor.PID != first.cmd.Process.Pid {
		t.Fatalf("the second server's stop removed the first one's control socket")
	}
	first.stop(t)
	if _, err := os.Lstat(ctl); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("control socket left after the server stopped")
	}

	// kill -9 leaves the file; the next start replaces it.
	d := &daemon{dir: dir, sock: filepath.Join(dir, "c.sock"), pidPath: filepath.Join(dir, "ltest-ctlfg.pid"), env: append(os.Environ(), env...)}
	killed := d.start(t)
	syscall.Kill(-killed, syscall.SIGKILL)
	waitGone(t, killed)
	if _, err := os.Lstat(ctl); err != nil {
		t.Fatalf("no control socket left by kill -9 (%v): this test means to replace one", err)
	}
	again := d.start(t)
	if st := askControl(t, ctl); st.Supervisor.PID != again {
		t.Fatalf("after kill -9 and a new start the control socket answers for %d, want %d", st.Supervisor.PID, again)
	}
	syscall.Kill(again, syscall.SIGTERM)
	waitGone(t, again)
}

// -control PATH gives a server run with -x by hand (runit, a container) a
// control socket at the operator's path: private (mode 0700, peer
// credentials checked), answering with the live figures, never taken from
// a live server, a stale one replaced, removed on stop.
func TestControlSocketFlag(t *testing.T) {
	needRoot(t)
	dir := sharedDir(t)
	ctl := filepath.Join(dir, "by-hand.ctl")
	env := []string{"TESTSERVER_NAME=ltest-ctlflag", "TESTSERVER_PIDDIR=" + dir}

	// A stale socket file, as kill -9 leaves one.
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: ctl, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false)
	stale.Close()

	sock := filepath.Join(dir, "a.sock")
	first, server := startForeground(t, env, "-l", sock, "-control", ctl)
	if _, err := os.Lstat(filepath.Join(dir, "ltest-ctlflag.ctl")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a control socket in PidDir beside the one asked for (%v)", err)
	}
	fi, err := os.Lstat(ctl)
	if err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o700 {
		t.Fatalf("control socket %s: %v, %v; want a socket, mode 0700", ctl, fi.Mode(), err)
	}
	for range 2 {
		c, _, err := dialRaw(sock)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	st := waitStatus(t, ctl, "2 live connections", func(st *control.Status) bool { return st.Total.Live == 2 })
	if st.Mode != control.ModeForeground || st.Supervisor.PID != first.cmd.Process.Pid ||
		st.Supervisor.Control != ctl || st.Supervisor.Pidfile != "" ||
		st.Serving() == nil || st.Serving().PID != server {
		t.Fatalf("status on -control: mode %q, supervisor %+v, servers %+v", st.Mode, st.Supervisor, st.Servers)
	}
	if out, ok := askAs(t, ctl, 65534, 65534); ok || !strings.Contains(out, "permission denied") {
		t.Fatalf("nobody asked the control socket: %q (%v), want permission denied", out, ok)
	}

	// A second server on the same path is refused, and takes nothing.
	second := runServer(t, env, "-x", "-l", filepath.Join(dir, "b.sock"), "-control", ctl)
	select {
	case <-second.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("a second server on a live control socket runs on:\n%s", second.stderr())
	}
	if code := second.cmd.ProcessState.ExitCode(); code == 0 ||
		!strings.Contains(second.stderr(), ctl+" is in use: a server named ltest-ctlflag runs (supervisor PID "+strconv.Itoa(first.cmd.Process.Pid)) {
		t.Fatalf("a second server on a live control socket: exit %d\n%s", code, second.stderr())
	}
	if st := askControl(t, ctl); st.Supervisor.PID != first.cmd.Process.Pid {
		t.Fatalf("the second server took the control socket: %+v", st.Supervisor)
	}

	first.stop(t)
	if _, err := os.Lstat(ctl); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("control socket left after SIGTERM (%v)", err)
	}
}

// -control takes a path, made absolute: a relative one would name another
// file for a process whose working directory differs.
func TestControlSocketFlagRelative(t *testing.T) {
	needRoot(t)
	dir := sharedDir(t)
	env := []string{"TESTSERVER_NAME=ltest-ctlrel", "TESTSERVER_PIDDIR=" + dir}
	cmd := exec.Command(testserver, "-x", "-l", filepath.Join(dir, "r.sock"), "-control", "rel.ctl")
	cmd.Dir = dir
	p := runServerCmd(t, cmd, env)
	p.waitLine(t, acceptingPid)
	if st := askControl(t, filepath.Join(dir, "rel.ctl")); st.Supervisor.Control != filepath.Join(dir, "rel.ctl") {
		t.Fatalf("status names the control socket %q, want %q", st.Supervisor.Control, filepath.Join(dir, "rel.ctl"))
	}
	p.stop(t)
}
