//go:build linux

package lifecycle_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dorritgo/dorrit/internal/testproc"
	"golang.org/x/sys/unix"
)

// daemon is a server started without -x, as rc.d would start it.
type daemon struct {
	dir, sock, pidPath string
	bin                string   // testserver unless set
	vars               []string // environment variables for testserver
	env                []string // the whole environment: ours and vars
}

func newDaemon(t *testing.T, name string, env ...string) *daemon {
	dir := sharedDir(t)
	vars := append([]string{"TESTSERVER_NAME=" + name, "TESTSERVER_PIDDIR=" + dir}, env...)
	return &daemon{
		dir:     dir,
		sock:    filepath.Join(dir, "s.sock"),
		pidPath: filepath.Join(dir, name+".pid"),
		vars:    vars,
		env:     append(os.Environ(), vars...),
	}
}

// start runs the start command and returns the supervisor's pid from the
// pidfile. The supervisor leads its own session and process group, which
// its server processes share: cleanup kills that group.
func (d *daemon) start(t *testing.T) int {
	t.Helper()
	bin := d.bin
	if bin == "" {
		bin = testserver
	}
	cmd := exec.Command(bin, "-l", d.sock)
	cmd.Env = d.env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("start: %v\n%s", err, out)
	}
	b, err := os.ReadFile(d.pidPath)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pidfile holds %q", b)
	}
	testproc.Tie(t, pid) // killed at cleanup, or with the test process
	return pid
}

// openFiles lists what the descriptors of process pid point to.
func openFiles(t *testing.T, pid int) map[int]string {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]string{}
	for _, e := range ents {
		fd, _ := strconv.Atoi(e.Name())
		if target, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil {
			out[fd] = target
		}
	}
	return out
}

// The pidfile belongs to root's supervisor: the server process, which runs
// as nobody, must not hold a descriptor of it (it could rewrite it, and its
// copy of the lock would outlive the supervisor).
func TestPidfileNotInServerProcess(t *testing.T) {
	needRoot(t)
	d := newDaemon(t, "ltest-pidfd")
	supervisor := d.start(t)
	id, err := whoami(d.sock)
	if err != nil {
		t.Fatal(err)
	}
	server := pidOf(id)
	if !strings.Contains(id, "Uid: 65534") {
		t.Fatalf("server process is not running as nobody: %q", id)
	}
	for fd, target := range openFiles(t, server) {
		if target == d.pidPath {
			t.Errorf("server process %d (uid 65534) holds the pidfile %s on descriptor %d", server, d.pidPath, fd)
		}
	}
	if !strings.Contains(fmt.Sprint(openFiles(t, supervisor)), d.pidPath) {
		t.Errorf("the supervisor %d does not hold the pidfile: %v", supervisor, openFiles(t, supervisor))
	}
}

// Descriptors the start command inherited (from a shell, a CI runner,
// rc.d) do not reach the server process, which runs as another account:
// here a root-only file open for writing.
func TestInheritedDescriptorsNotInServerProcess(t *testing.T) {
	needRoot(t)
	private := filepath.Join(t.TempDir(), "secret") // in a 0700 directory
	secret, err := os.OpenFile(private, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer secret.Close()
	d := newDaemon(t, "ltest-inherit")
	for _, x := range []bool{false, true} {
		name, sock := "daemon", d.sock
		if x {
			// A socket of its own: the daemon's was seen still answering
			// right after its processes were killed, under make test's load.
			name, sock = "foreground", filepath.Join(t.TempDir(), "fg.sock")
		}
		args := []string{"-l", sock}
		if x {
			args = append(args, "-x")
		}
		t.Run(name, func(t *testing.T) {
			server := 0 // its server process, gone too before the next subtest takes the socket
			t.Cleanup(func() {
				if server != 0 {
					waitGone(t, server)
				}
			})
			cmd := exec.Command(testserver, args...)
			// Above the descriptors lifecycle passes on (3 to 5), where
			// nothing overwrites it.
			extra := []*os.File{nil, nil, nil, nil, nil, nil, secret}
			p := runServerCmd(t, cmd, d.vars, extra...)
			if x {
				p.waitLine(t, acceptingPid)
			} else {
				<-p.done
				if code := p.cmd.ProcessState.ExitCode(); code != 0 {
					t.Fatalf("start: exit status %d\n%s", code, p.stderr())
				}
				b, _ := os.ReadFile(d.pidPath)
				supervisor, _ := strconv.Atoi(strings.TrimSpace(string(b)))
				// The whole group: a server process killed a moment after
				// its supervisor would still answer on the socket.
				t.Cleanup(func() { syscall.Kill(-supervisor, syscall.SIGKILL); waitGroupGone(t, supervisor) })
			}
			id, err := whoami(sock)
			if err != nil {
				t.Fatal(err)
			}
			server = pidOf(id)
			for fd, target := range openFiles(t, pidOf(id)) {
				if target == private {
					t.Fatalf("server process %d (uid 65534) holds root's %s on descriptor %d", pidOf(id), private, fd)
				}
			}
		})
	}
}

// kill -9 of the supervisor: the server process notices, drains (its client
// gets 1001) and exits, so a new start needs no manual cleanup. The same
// holds for a set-user-ID binary (the manual's way to keep root after a
// restart), whose exec clears the kernel's parent-death setting.
func TestSupervisorKilled(t *testing.T) {
	needRoot(t)
	t.Run("plain", func(t *testing.T) { testSupervisorKilled(t, testserver) })
	t.Run("setuid", func(t *testing.T) {
		bin := filepath.Join(sharedDir(t), "testserver-setuid")
		b, err := os.ReadFile(testserver)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, b, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(bin, os.ModeSetuid|0o755); err != nil {
			t.Fatal(err)
		}
		testSupervisorKilled(t, bin)
	})
}

func testSupervisorKilled(t *testing.T, bin string) {
	d := newDaemon(t, "ltest-orphan")
	d.bin = bin
	supervisor := d.start(t)
	id, err := whoami(d.sock)
	if err != nil {
		t.Fatal(err)
	}
	server := pidOf(id)
	c, _, err := dialRaw(d.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := c.WriteText([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := c.ReadMessage(); err != nil || string(msg) != "hello" {
		t.Fatalf("echo: %q %v", msg, err)
	}

	syscall.Kill(supervisor, syscall.SIGKILL)
	code, _, _, err := c.ExpectClose(10 * time.Second)
	if err != nil || code != 1001 {
		t.Fatalf("after kill -9 of the supervisor %d, the client of server process %d got close %d (%v), want 1001 (drained)", supervisor, server, code, err)
	}
	c.WriteClose(1001, "")
	waitGone(t, server)
	// The parent-death signal comes when the supervisor's thread that
	// started the server ends; its other threads, and the pidfile's lock,
	// may take a moment longer, so a start right now could still find
	// the lock held. Wait for the supervisor, as a script would.
	waitGone(t, supervisor)

	again := d.start(t)
	if again == supervisor {
		t.Fatalf("pidfile still names the killed supervisor %d", supervisor)
	}
	if id, err := whoami(d.sock); err != nil || pidOf(id) == server {
		t.Fatalf("new start does not serve: %q %v", id, err)
	}
	syscall.Kill(again, syscall.SIGTERM)
	waitGone(t, again)
	if _, err := os.Lstat(d.pidPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("pidfile left after SIGTERM")
	}
}

// syslogd is a syslog daemon for a test: a unix datagram socket that keeps
// every record with the time it arrived.
type syslogd struct{ recorder[logRecord] }

type logRecord struct {
	at   time.Time
	text string
}

func listenSyslog(t *testing.T, path string) *syslogd {
	t.Helper()
	c := listenDatagrams(t, path)
	l := &syslogd{newRecorder[logRecord]()}
	go func() {
		buf := make([]byte, 1<<20) // larger than any datagram: a long one shows as long
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			l.add(logRecord{time.Now(), string(buf[:n])})
		}
	}()
	return l
}

// waitFor waits until some record matches re and returns it.
func (l *syslogd) waitFor(t *testing.T, re *regexp.Regexp) logRecord {
	t.Helper()
	_, r := l.waitFrom(t, 0, func(r logRecord) bool { return re.MatchString(r.text) },
		func() string { return fmt.Sprintf("no syslog record matching %q within 20s; got:\n%s", re, l.dump()) })
	return r
}

// matching returns the records that match re, in order of arrival.
func (l *syslogd) matching(re *regexp.Regexp) []logRecord {
	var out []logRecord
	for _, r := range l.all() {
		if re.MatchString(r.text) {
			out = append(out, r)
		}
	}
	return out
}

func (l *syslogd) dump() string {
	var b strings.Builder
	for _, r := range l.all() {
		if len(r.text) > 300 {
			r.text = r.text[:300] + fmt.Sprintf("... (%d bytes)", len(r.text))
		}
		fmt.Fprintf(&b, "%s %s\n", r.at.Format("15:04:05.000"), strings.TrimSpace(r.text))
	}
	return b.String()
}

// A server that crashes at once is restarted after a pause that doubles
// from 100 ms, each restart is logged with its pause, and the fifth crash
// stops the supervisor with the reason, socket and pidfile removed.
func TestCrashBackoff(t *testing.T) {
	needRoot(t)
	logPath := filepath.Join(sharedDir(t), "log")
	logs := listenSyslog(t, logPath)
	d := newDaemon(t, "ltest-backoff", "TESTSERVER_CRASH=1", "TESTSERVER_SYSLOG="+logPath)
	supervisor := d.start(t)
	stop := logs.waitFor(t, regexp.MustCompile(`crashed 5 times within 10s.*giving up`))
	waitGone(t, supervisor)

	restarts := logs.matching(regexp.MustCompile(`server crashed; restarting`))
	crashes := logs.matching(regexp.MustCompile(`panic: crashing at once`))
	delay := regexp.MustCompile(`delay=(\S+)`)
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond}
	if len(restarts) != len(want) || len(crashes) != len(want)+1 {
		t.Fatalf("%d restarts logged and %d crashes, want %d and %d:\n%s", len(restarts), len(crashes), len(want), len(want)+1, logs.dump())
	}
	for i, r := range restarts {
		m := delay.FindStringSubmatch(r.text)
		if m == nil {
			t.Fatalf("restart %d logged without its delay: %q\n%s", i+1, r.text, logs.dump())
		}
		if d, err := time.ParseDuration(m[1]); err != nil || d != want[i] {
			t.Fatalf("restart %d after %s, want %v:\n%s", i+1, m[1], want[i], logs.dump())
		}
		// The next server process crashes at once, so its dump comes a
		// little after the pause.
		if gap := crashes[i+1].at.Sub(r.at); gap < want[i] {
			t.Fatalf("restart %d: next crash %v after the restart was announced, before its pause of %v:\n%s", i+1, gap, want[i], logs.dump())
		}
	}
	if !strings.HasPrefix(stop.text, "<27>") { // daemon.err
		t.Fatalf("giving up logged as %q, want severity err", stop.text)
	}
	for _, path := range []string{d.sock, d.pidPath} {
		if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s left behind after giving up", path)
		}
	}
}

// The crash report a dump in testserver writes: dumpLines lines, and for
// "dumplong" one line of longLine bytes after line dumpLines/2.
const (
	dumpLines = 3000
	longLine  = 70000
)

// Every line a crashing server process writes on stderr reaches syslog, in
// order and whole, before the supervisor logs the crash, also after a line
// longer than any syslog record.
func TestCrashDumpComplete(t *testing.T) {
	needRoot(t)
	for _, kind := range []string{"dump", "dumplong"} {
		t.Run(kind, func(t *testing.T) { testCrashDump(t, kind) })
	}
}

func testCrashDump(t *testing.T, kind string) {
	logPath := filepath.Join(sharedDir(t), "log")
	logs := listenSyslog(t, logPath)
	d := newDaemon(t, "ltest-dump", "TESTSERVER_SYSLOG="+logPath)
	d.start(t)
	from := 0
	for round := 1; round <= 2; round++ {
		id, err := whoami(d.sock)
		if err != nil {
			t.Fatal(err)
		}
		server := pidOf(id)
		c, _, err := dialRaw(d.sock)
		if err != nil {
			t.Fatal(err)
		}
		c.WriteText([]byte(kind))
		c.Close()

		restarted := regexp.MustCompile(fmt.Sprintf(`server crashed; restarting.* pid=%d `, server))
		var recs []logRecord
		deadline := time.Now().Add(20 * time.Second)
		for {
			recs = logs.all()[from:]
			if i := slices.IndexFunc(recs, func(r logRecord) bool { return restarted.MatchString(r.text) }); i >= 0 {
				from += i + 1
				recs = recs[:i]
				break
			}
			if time.Now().After(deadline) {
				lines, _, _ := dumpReceived(recs)
				t.Fatalf("round %d: no crash of server process %d logged within 20s; %d of its %d dump lines arrived (last: %v)", round, server, len(lines), dumpLines, lines[max(len(lines)-1, 0):])
			}
			select {
			case <-logs.more:
			case <-time.After(100 * time.Millisecond):
			}
		}
		lines, long, panicAt := dumpReceived(recs)
		for i, n := range lines {
			if n != i+1 {
				t.Fatalf("round %d: %d dump lines arrived before the crash was logged, line %d where %d was due (last: %d)", round, len(lines), n, i+1, lines[len(lines)-1])
			}
		}
		if len(lines) != dumpLines {
			t.Fatalf("round %d: %d of %d dump lines arrived before the crash was logged; the last was line %v", round, len(lines), dumpLines, lines[max(len(lines)-1, 0):])
		}
		if panicAt < 0 {
			t.Fatalf("round %d: the panic's own lines did not arrive before the crash was logged", round)
		}
		if want := map[string]int{"dump": 0, "dumplong": longLine}[kind]; long != want {
			t.Fatalf("round %d: the long line arrived with %d of its %d bytes, or out of place", round, long, want)
		}
	}
}

// dumpReceived reads syslog records for a dump: the numbers of the whole
// dump lines in order of arrival, how many bytes of the long line arrived
// between lines dumpLines/2 and dumpLines/2+1, and where "panic: dump
// done" came (-1: not at all, or before the last dump line).
func dumpReceived(recs []logRecord) (lines []int, long, panicAt int) {
	dumpLine := regexp.MustCompile(`dump line (\d{4}) (x*)`)
	panicAt = -1
	for i, r := range recs {
		_, msg, _ := strings.Cut(r.text, "]: ") // after the syslog header
		if m := dumpLine.FindStringSubmatch(msg); m != nil {
			n, _ := strconv.Atoi(m[1])
			if len(m[2]) == 80 {
				lines = append(lines, n)
			}
			continue
		}
		if strings.Contains(msg, "yyyyyyyyyy") && len(lines) == dumpLines/2 {
			long += strings.Count(msg, "y")
		}
		if strings.Contains(msg, "panic: dump done") && len(lines) == dumpLines {
			panicAt = i
		}
	}
	return lines, long, panicAt
}

// Started while syslog is down, a daemon logs once syslog is back: the
// supervisor (a crash report, the crash, the stop) and the server process
// (its own logger) reconnect, and what was logged meanwhile arrives first.
func TestLateSyslog(t *testing.T) {
	needRoot(t)
	logPath := filepath.Join(sharedDir(t), "log")
	d := newDaemon(t, "ltest-latelog", "TESTSERVER_SYSLOG="+logPath)
	supervisor := d.start(t)
	logs := listenSyslog(t, logPath)

	id, err := whoami(d.sock)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := dialRaw(d.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.WriteText([]byte("log"))
	if _, msg, err := c.ReadMessage(); err != nil || string(msg) != "log" {
		t.Fatalf("echo: %q %v", msg, err)
	}
	logs.waitFor(t, regexp.MustCompile(fmt.Sprintf(`logged at a client's request" pid=%d`, pidOf(id))))
	c.WriteText([]byte("panic"))
	logs.waitFor(t, regexp.MustCompile(`panic requested by a client`))
	logs.waitFor(t, regexp.MustCompile(`server crashed; restarting`))
	logs.waitFor(t, regexp.MustCompile(`server restarted`))
	syscall.Kill(supervisor, syscall.SIGTERM)
	logs.waitFor(t, regexp.MustCompile(`stopping`))
	waitGone(t, supervisor)

	// What the supervisor logged before syslog was there came, once, and
	// before what it logged later.
	recs := logs.all()
	first := func(re string) int {
		return slices.IndexFunc(recs, func(r logRecord) bool { return regexp.MustCompile(re).MatchString(r.text) })
	}
	accepting, crashed := first(`msg=accepting`), first(`server crashed; restarting`)
	if len(logs.matching(regexp.MustCompile(`msg=accepting`))) != 1 || accepting < 0 || accepting > crashed {
		t.Fatalf("the start's line, logged while syslog was down, did not arrive once and first:\n%s", logs.dump())
	}
}

// notifyd is a fake systemd notification socket: it keeps every message
// with the pid of the process that sent it (SCM_CREDENTIALS).
type notifyd struct{ recorder[sdNote] }

type sdNote struct {
	pid  int
	at   time.Time
	text string
}

func listenNotify(t *testing.T, path string) *notifyd {
	t.Helper()
	c := listenDatagrams(t, path)
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1) })
	if serr != nil {
		t.Fatal(serr)
	}
	n := &notifyd{newRecorder[sdNote]()}
	go func() {
		buf, oob := make([]byte, 4096), make([]byte, 1024)
		for {
			k, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
			if err != nil {
				return
			}
			pid := -1
			if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil && len(msgs) > 0 {
				if cred, err := unix.ParseUnixCredentials(&msgs[0]); err == nil {
					pid = int(cred.Pid)
				}
			}
			n.add(sdNote{pid, time.Now(), string(buf[:k])})
		}
	}()
	return n
}

// wait waits for a message, after the first from, that matches re, and
// returns its index.
func (n *notifyd) wait(t *testing.T, from int, re *regexp.Regexp) (int, sdNote) {
	t.Helper()
	return n.waitFrom(t, from, func(m sdNote) bool { return re.MatchString(m.text) },
		func() string {
			return fmt.Sprintf("no notification matching %q within 20s; got %+v", re, n.all()[from:])
		})
}

// datagrams keeps what a test's datagram socket received, in order of
// arrival, and wakes whoever waits for more: the syslog and sd_notify
// recorders above.
type recorder[T any] struct {
	mu    sync.Mutex
	items []T
	more  chan struct{}
}

func newRecorder[T any]() recorder[T] { return recorder[T]{more: make(chan struct{}, 1)} }

func (d *recorder[T]) add(v T) {
	d.mu.Lock()
	d.items = append(d.items, v)
	d.mu.Unlock()
	select {
	case d.more <- struct{}{}:
	default:
	}
}

func (d *recorder[T]) all() []T {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]T(nil), d.items...)
}

// waitFrom waits until an item after the first from satisfies match and
// returns its index and it; after 20 s the test fails with failure().
func (d *recorder[T]) waitFrom(t *testing.T, from int, match func(T) bool, failure func() string) (int, T) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		items := d.all()
		for i := from; i < len(items); i++ {
			if match(items[i]) {
				return i, items[i]
			}
		}
		select {
		case <-d.more:
		case <-deadline:
			t.Fatal(failure())
		}
	}
}

// underSystemd runs testserver with args as systemd would for a
// Type=notify service with socket activation: its socket on descriptor 3
// with LISTEN_FDS, NOTIFY_SOCKET, and WATCHDOG_PID set to its own pid.
// It waits for READY=1 and checks that it came from the main process; if
// not, the test goes on with the process that sent it.
func underSystemd(t *testing.T, name string, env []string, args ...string) (p *proc, sock string, notes *notifyd, readyPid int) {
	t.Helper()
	dir := sharedDir(t)
	notes = listenNotify(t, filepath.Join(dir, "notify"))
	sock = filepath.Join(dir, "s.sock")
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ul.SetUnlinkOnClose(false)
	os.Chmod(sock, 0o777)
	f, _ := ul.File()
	ul.Close()
	// systemd sets LISTEN_PID and WATCHDOG_PID to the service's own pid,
	// known only once it runs.
	cmd := exec.Command("/bin/sh", append([]string{"-c", `LISTEN_PID=$$ LISTEN_FDS=1 WATCHDOG_PID=$$ exec "$0" "$@"`, testserver}, args...)...)
	p = runServerCmd(t, cmd, append([]string{"TESTSERVER_NAME=" + name, "TESTSERVER_PIDDIR=" + dir, "NOTIFY_SOCKET=" + filepath.Join(dir, "notify")}, env...), f)
	f.Close()
	_, ready := notes.wait(t, 0, regexp.MustCompile(`^READY=1$`))
	if ready.pid != p.cmd.Process.Pid {
		testproc.Tie(t, ready.pid) // a detached daemon in a session of its own
		t.Errorf("READY=1 came from pid %d, not from the main process %d: systemd (NotifyAccess=main) would drop it and time out the start; stderr:\n%s", ready.pid, p.cmd.Process.Pid, p.stderr())
	}
	return p, sock, notes, ready.pid
}

// notesFrom checks that every message came from pid.
func notesFrom(t *testing.T, notes *notifyd, pid int) {
	t.Helper()
	for _, n := range notes.all() {
		if n.pid != pid {
			t.Fatalf("%q came from pid %d, not from the main process %d", n.text, n.pid, pid)
		}
	}
}

// Under systemd without -x: no detaching (said once on stderr), READY=1
// and STOPPING=1 from the main process, and systemd's socket file is left
// in place on SIGTERM.
func TestSystemdWithoutX(t *testing.T) {
	p, sock, notes, supervisor := underSystemd(t, "ltest-sdnox", nil)
	if n := strings.Count(p.stderr(), "staying in the foreground"); n != 1 {
		t.Errorf("said %d times that it does not detach under systemd; stderr:\n%s", n, p.stderr())
	}
	if _, err := whoami(sock); err != nil {
		t.Fatalf("server on systemd's socket: %v", err)
	}
	syscall.Kill(supervisor, syscall.SIGTERM)
	waitGone(t, supervisor)
	notes.wait(t, 0, regexp.MustCompile(`^STOPPING=1$`))
	if _, err := os.Lstat(sock); err != nil {
		t.Fatalf("systemd's socket file was removed on SIGTERM: %v", err)
	}
	<-p.done
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit status %d", code)
	}
	notesFrom(t, notes, p.cmd.Process.Pid)
}

// RELOADING=1 carries MONOTONIC_USEC, which Type=notify-reload requires,
// and READY=1 follows once the new server accepts.
func TestSystemdReload(t *testing.T) {
	p, _, notes, _ := underSystemd(t, "ltest-sdreload", nil, "-x")
	var before unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &before)
	p.cmd.Process.Signal(syscall.SIGHUP)
	i, n := notes.wait(t, 0, regexp.MustCompile(`RELOADING=1`))
	var after unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &after)
	m := regexp.MustCompile(`(?m)^MONOTONIC_USEC=(\d+)$`).FindStringSubmatch(n.text)
	if m == nil {
		t.Fatalf("reload notification %q has no MONOTONIC_USEC=", n.text)
	}
	usec, _ := strconv.ParseInt(m[1], 10, 64)
	if usec < before.Nano()/1000 || usec > after.Nano()/1000 {
		t.Fatalf("MONOTONIC_USEC=%d is not CLOCK_MONOTONIC in µs at the reload (between %d and %d)", usec, before.Nano()/1000, after.Nano()/1000)
	}
	notes.wait(t, i+1, regexp.MustCompile(`^READY=1$`))
	p.stop(t)
	notesFrom(t, notes, p.cmd.Process.Pid)
}

// STATUS= says how many connections are open, from the main process.
func TestSystemdStatus(t *testing.T) {
	p, sock, notes, _ := underSystemd(t, "ltest-sdstatus", nil, "-x")
	var conns []interface{ Close() error }
	for range 3 {
		c, _, err := dialRaw(sock)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	i, _ := notes.wait(t, 0, regexp.MustCompile(`^STATUS=.*\b3 connections\b`))
	for _, c := range conns {
		c.Close()
	}
	notes.wait(t, i+1, regexp.MustCompile(`^STATUS=.*\b0 connections\b`))
	p.stop(t)
	notesFrom(t, notes, p.cmd.Process.Pid)
}

// With WatchdogSec= (WATCHDOG_USEC), WATCHDOG=1 comes at about half the
// interval while the server process answers, and stops when it does not.
func TestSystemdWatchdog(t *testing.T) {
	p, sock, notes, _ := underSystemd(t, "ltest-sdwatch", []string{"WATCHDOG_USEC=1000000"}, "-x")
	dog := regexp.MustCompile(`^WATCHDOG=1$`)
	pings := func(notes []sdNote) (at []time.Time) {
		for _, n := range notes {
			if dog.MatchString(n.text) {
				at = append(at, n.at)
			}
		}
		return at
	}
	waitFor(t, "five watchdog pings", func() bool { return len(pings(notes.all())) >= 5 })
	at := pings(notes.all())
	for i := 1; i < len(at); i++ {
		if gap := at[i].Sub(at[i-1]); gap < 250*time.Millisecond {
			t.Fatalf("watchdog pinged %v after the last one; want about 500ms for WATCHDOG_USEC=1000000", gap)
		}
	}

	id, err := whoami(sock)
	if err != nil {
		t.Fatal(err)
	}
	server := pidOf(id)
	syscall.Kill(server, syscall.SIGSTOP) // it answers nothing now
	defer syscall.Kill(server, syscall.SIGCONT)
	stopped, stoppedAt := len(notes.all()), time.Now()
	// A ping or two from heartbeats sent before the stop may still come;
	// after that, none for twice the interval.
	waitFor(t, "watchdog pings to stop", func() bool {
		at := pings(notes.all()[stopped:])
		last := stoppedAt
		if len(at) > 0 {
			last = at[len(at)-1]
		}
		if len(at) > 3 {
			t.Fatalf("%d watchdog pings since the server process was stopped", len(at))
		}
		return time.Since(last) > 2*time.Second
	})
	syscall.Kill(server, syscall.SIGCONT)
	n := len(notes.all())
	notes.wait(t, n, dog)
	p.stop(t)
	notesFrom(t, notes, p.cmd.Process.Pid)
}
