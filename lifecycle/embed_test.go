package lifecycle_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dorritgo/dorrit/internal/testproc"
)

// apidaemon builds internal/apidaemon once per test binary.
func apidaemon(t *testing.T) string {
	t.Helper()
	return testproc.Build(t, testproc.Program{Pkg: "./internal/apidaemon"})
}

// freeTCP is a loopback address nothing listens on.
func freeTCP(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func getText(url string) (string, error) {
	c := http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s: %s", resp.Status, b)
	}
	return strings.TrimSpace(string(b)), err
}

var apidaemonAccepting = regexp.MustCompile(`accepting pid=(\d+)`)

// embedded is a started apidaemon.
type embedded struct {
	*proc
	sock, api, pidfile string
}

// startEmbedded runs apidaemon as root with a socket, an API port and a
// pidfile in a fresh directory, and waits until it accepts.
func startEmbedded(t *testing.T, env []string, args ...string) (*embedded, int) {
	t.Helper()
	dir := sharedDir(t)
	e := &embedded{sock: filepath.Join(dir, "api.socket"), api: freeTCP(t), pidfile: filepath.Join(dir, "apidaemon.pid")}
	cmd := exec.Command(apidaemon(t), append([]string{"-l", e.sock, "-api", e.api, "-pidfile", e.pidfile}, args...)...)
	e.proc = runServerCmd(t, cmd, env)
	return e, e.waitAccepting(t)
}

// waitAccepting waits for the first process's "accepting" line.
func (e *embedded) waitAccepting(t *testing.T) int {
	t.Helper()
	m := e.waitLine(t, apidaemonAccepting)
	pid, _ := strconv.Atoi(m[1])
	return pid
}

// nobodyIDs are the uid and gid a root start drops to by default.
func nobodyIDs(t *testing.T) (uid, gid string) {
	t.Helper()
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody")
	}
	gid = u.Gid
	if g, err := user.LookupGroup("nobody"); err == nil {
		gid = g.Gid
	}
	return u.Uid, gid
}

// TestDaemonKeepsItsOwnMain is the daemon of the embedding trial: its own
// main opens its HTTP API and a dorrit endpoint, takes the pidfile, drops
// privileges in place and serves both, each opened once. Under Run it
// failed: the re-executed server process ran main again and its API
// collided with the first (bind: address already in use).
func TestDaemonKeepsItsOwnMain(t *testing.T) {
	needRoot(t)
	e, pid := startEmbedded(t, nil)
	uid, gid := nobodyIDs(t)
	want := fmt.Sprintf("pid=%d uid=%s gid=%s", pid, uid, gid)
	if got, err := whoami(e.sock); err != nil || got != want {
		t.Errorf("dorrit endpoint: %q, %v; want %q", got, err, want)
	}
	if got, err := getText("http://" + e.api + "/whoami"); err != nil || got != want {
		t.Errorf("the daemon's API: %q, %v; want %q", got, err, want)
	}
	if b, err := os.ReadFile(e.pidfile); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(pid) {
		t.Errorf("pidfile: %q, %v; want %d", b, err, pid)
	}
	if s := e.stderr(); strings.Contains(s, "address already in use") {
		t.Fatalf("a socket was opened twice:\n%s", s)
	}
	if code := e.stop(t); code != 0 {
		t.Fatalf("exit status %d after SIGTERM; stderr:\n%s", code, e.stderr())
	}
	for _, f := range []string{e.sock, e.pidfile} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s left behind", f)
		}
	}
}

// A second instance on the same pidfile is refused before it opens
// anything, with the first one's PID and what to do.
func TestEmbeddedSecondInstanceRefused(t *testing.T) {
	needRoot(t)
	e, pid := startEmbedded(t, nil)
	out, err := exec.Command(apidaemon(t), "-l", e.sock+"2", "-api", freeTCP(t), "-pidfile", e.pidfile).CombinedOutput()
	if err == nil {
		t.Fatalf("a second instance started:\n%s", out)
	}
	want := fmt.Sprintf("already running as PID %d (pidfile %s): stop it first", pid, e.pidfile)
	if !strings.Contains(string(out), want) {
		t.Errorf("second instance said:\n%s\nwant it to say %q", out, want)
	}
	if got, err := whoami(e.sock); err != nil || pidOf(got) != pid {
		t.Errorf("the first instance after the attempt: %q, %v", got, err)
	}
}

// apiLoad runs clients that GET /whoami in a loop, each on a new
// connection, and counts the answers by pid and the failures.
type apiLoad struct {
	mu      sync.Mutex
	pids    map[int]int
	failed  int
	lastErr error
	stop    chan struct{}
	wg      sync.WaitGroup
}

func startAPILoad(addr string, clients int) *apiLoad {
	l := &apiLoad{pids: map[int]int{}, stop: make(chan struct{})}
	for range clients {
		l.wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				got, err := getText("http://" + addr + "/whoami")
				l.mu.Lock()
				if err != nil {
					l.failed++
					l.lastErr = err
				} else {
					l.pids[pidOf(got)]++
				}
				l.mu.Unlock()
			}
		})
	}
	return l
}

func (l *apiLoad) finish() string {
	close(l.stop)
	l.wg.Wait()
	if l.failed == 0 {
		return ""
	}
	return fmt.Sprintf("%d API requests failed (last: %v); answers by pid %v", l.failed, l.lastErr, l.pids)
}

// SIGHUP hands both listeners, the dorrit socket and the API's TCP port,
// to a new process of the binary: under load on both, no connection is
// refused, no conversation cut, no request fails; the new process serves
// both, holds the pidfile, and systemd is told that the main PID moved.
// The new process upgrades in turn.
func TestUpgradeHandsOverBothListeners(t *testing.T) {
	needRoot(t)
	notifySock := filepath.Join(sharedDir(t), "notify")
	sd := datagrams(t, notifySock)
	e, first := startEmbedded(t, []string{"NOTIFY_SOCKET=" + notifySock})
	expectDatagram(t, sd, "READY=1")

	pid := first
	for round := range 2 {
		ws, api := startLoad(e.sock, 4), startAPILoad(e.api, 4)
		waitFor(t, "answers under load", func() bool { return ws.servedBy(func(int) bool { return true }) })
		syscall.Kill(pid, syscall.SIGHUP)
		reloading := expectDatagram(t, sd, "RELOADING=1")
		if !strings.Contains(reloading, "MONOTONIC_USEC=") {
			t.Errorf("RELOADING=1 without MONOTONIC_USEC: %q", reloading)
		}
		next := e.waitLineAfterAll(t, pid)
		expectDatagram(t, sd, fmt.Sprintf("MAINPID=%d\nREADY=1", next))
		waitGone(t, pid)
		waitFor(t, "answers from the new process", func() bool { return ws.servedBy(func(p int) bool { return p == next }) })
		refused, cut, pids := ws.finish()
		if refused+cut != 0 {
			t.Errorf("round %d: dorrit: %s", round, ws.report())
		}
		if report := api.finish(); report != "" {
			t.Errorf("round %d: API: %s", round, report)
		}
		t.Logf("round %d: %d → %d; dorrit answers by pid %v, API answers by pid %v", round, pid, next, pids, api.pids)
		if got, err := getText("http://" + e.api + "/whoami"); err != nil || pidOf(got) != next {
			t.Errorf("round %d: API after the upgrade: %q, %v; want pid %d", round, got, err, next)
		}
		if b, _ := os.ReadFile(e.pidfile); strings.TrimSpace(string(b)) != strconv.Itoa(next) {
			t.Errorf("round %d: pidfile says %q; want %d", round, b, next)
		}
		// The new process accepts only once the old one has let go: on
		// their shared stderr, the old one's "releasing" comes first.
		s := e.stderr()
		rel := regexp.MustCompile(fmt.Sprintf(`apidaemon\[%d\]: .*releasing`, pid)).FindStringIndex(s)
		acc := regexp.MustCompile(fmt.Sprintf(`apidaemon\[%d\]: .*accepting`, next)).FindStringIndex(s)
		if rel == nil || acc == nil || acc[0] < rel[0] {
			t.Errorf("round %d: the new process accepted before the old one released:\n%s", round, s)
		}
		pid = next
	}
	if s := e.stderr(); strings.Contains(s, "address already in use") {
		t.Fatalf("a socket was opened twice:\n%s", s)
	}
	syscall.Kill(pid, syscall.SIGTERM)
	waitGone(t, pid)
	for _, f := range []string{e.sock, e.pidfile} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s left behind by the last process", f)
		}
	}
}

// waitLineAfterAll waits for an "accepting" line from a process started
// after old (neither old nor any before it).
func (e *embedded) waitLineAfterAll(t *testing.T, old int) int {
	t.Helper()
	seen := map[string]bool{}
	for _, l := range e.Lines() {
		if m := apidaemonAccepting.FindStringSubmatch(l); m != nil {
			seen[m[1]] = true
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		for _, l := range e.Lines() {
			if m := apidaemonAccepting.FindStringSubmatch(l); m != nil && !seen[m[1]] {
				pid, _ := strconv.Atoi(m[1])
				return pid
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no new process accepting within 15s after %d; stderr:\n%s", old, e.stderr())
	return 0
}

// A new binary that fails before it is ready leaves the old process
// serving both listeners, and the old process says why; once fixed, the
// upgrade goes through.
func TestUpgradeFailureKeepsServing(t *testing.T) {
	needRoot(t)
	failFile := filepath.Join(sharedDir(t), "fail")
	os.WriteFile(failFile, nil, 0o644)
	e, pid := startEmbedded(t, nil, "-fail", failFile)
	ws, api := startLoad(e.sock, 2), startAPILoad(e.api, 2)
	syscall.Kill(pid, syscall.SIGHUP)
	failed := regexp.MustCompile(`upgrade: the new process \(pid (\d+)\) ended before it was ready \(exit status 1; its messages are on the same stderr\): the old one serves on`)
	m := e.waitLine(t, failed)
	e.waitLine(t, regexp.MustCompile(`apidaemon\[`+m[1]+`\]: .* failing as asked`))
	refused, cut, pids := ws.finish()
	if refused+cut != 0 || len(pids) != 1 || pids[pid] == 0 {
		t.Errorf("dorrit during the failed upgrade: %s", ws.report())
	}
	if report := api.finish(); report != "" || len(api.pids) != 1 {
		t.Errorf("API during the failed upgrade: %s %v", report, api.pids)
	}
	if got, err := whoami(e.sock); err != nil || pidOf(got) != pid {
		t.Errorf("after the failed upgrade: %q, %v; want the old pid %d", got, err, pid)
	}
	os.Remove(failFile)
	syscall.Kill(pid, syscall.SIGHUP)
	next := e.waitLineAfterAll(t, pid)
	waitGone(t, pid)
	if got, err := getText("http://" + e.api + "/whoami"); err != nil || pidOf(got) != next {
		t.Errorf("API after the second upgrade: %q, %v; want pid %d", got, err, next)
	}
}

// Sockets systemd passes (LISTEN_FDS) are adopted by address, the dorrit
// socket and the API's port alike; nothing is bound anew, the upgrade
// hands them on, and systemd's socket file is never removed.
func TestSocketActivation(t *testing.T) {
	needRoot(t)
	dir := sharedDir(t)
	sock, addr := filepath.Join(dir, "activated.socket"), freeTCP(t)
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ul.SetUnlinkOnClose(false)
	tl, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	uf, _ := ul.File()
	tf, _ := tl.(*net.TCPListener).File()
	// Held by this test too: a daemon that bound anew would fail.
	defer ul.Close()
	defer tl.Close()
	os.Chmod(sock, 0o777)
	// systemd sets LISTEN_PID to the service's pid between fork and exec;
	// a shell that execs the daemon has that pid.
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ exec "$0" "$@"`, apidaemon(t), "-l", sock, "-api", addr)
	e := &embedded{sock: sock, api: addr}
	e.proc = runServerCmd(t, cmd, []string{"LISTEN_FDS=2", "LISTEN_FDNAMES=ws:api"}, uf, tf)
	uf.Close()
	tf.Close()
	pid := e.waitAccepting(t)
	if got, err := whoami(sock); err != nil || pidOf(got) != pid {
		t.Fatalf("dorrit on systemd's socket: %q, %v; stderr:\n%s", got, err, e.stderr())
	}
	if got, err := getText("http://" + addr + "/whoami"); err != nil || pidOf(got) != pid {
		t.Fatalf("API on systemd's socket: %q, %v; stderr:\n%s", got, err, e.stderr())
	}
	syscall.Kill(pid, syscall.SIGHUP)
	next := e.waitLineAfterAll(t, pid)
	waitGone(t, pid)
	if got, err := getText("http://" + addr + "/whoami"); err != nil || pidOf(got) != next {
		t.Errorf("API after the upgrade: %q, %v; want pid %d", got, err, next)
	}
	syscall.Kill(next, syscall.SIGTERM)
	waitGone(t, next)
	if _, err := os.Stat(sock); err != nil {
		t.Errorf("systemd's socket file was removed: %v", err)
	}
}

// SIGTERM while a new binary is starting stops the daemon: the new
// process is killed, not left serving, and the socket and the pidfile go.
func TestStopDuringUpgrade(t *testing.T) {
	needRoot(t)
	e, pid := startEmbedded(t, nil, "-ready-delay", "20s")
	syscall.Kill(pid, syscall.SIGHUP)
	m := e.waitLine(t, regexp.MustCompile(`apidaemon\[(\d+)\]: .*waiting 20s before Ready`))
	next, _ := strconv.Atoi(m[1])
	syscall.Kill(pid, syscall.SIGTERM)
	waitGone(t, pid)
	waitGone(t, next)
	for _, f := range []string{e.sock, e.pidfile} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s left behind", f)
		}
	}
}
