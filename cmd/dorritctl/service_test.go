package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
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

	"github.com/coder/websocket"
	"github.com/dorritgo/dorrit/internal/testproc"
)

// svc is a server named name run by the dorritctl binary, with its pidfile
// and control socket in a temporary directory (the test server's PidDir,
// given to dorritctl as --piddir), never in /var/run.
type svc struct {
	name, dir, sock string
	env             []string // for dorritctl, and so for the server it starts
}

func newSvc(t *testing.T, name string, env ...string) *svc {
	t.Helper()
	dir := sharedDir(t)
	s := &svc{name: name, dir: dir, sock: filepath.Join(dir, "s.sock")}
	s.env = append(os.Environ(), append([]string{"TESTSERVER_NAME=" + name, "TESTSERVER_PIDDIR=" + dir}, env...)...)
	// Whatever a failed test leaves running: every supervisor with a
	// pidfile here leads the process group of its server processes. Only
	// a test server's group is killed: a pidfile may hold anything.
	t.Cleanup(func() {
		pidfiles, _ := filepath.Glob(filepath.Join(dir, "*.pid"))
		for _, pf := range pidfiles {
			b, _ := os.ReadFile(pf)
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if exe, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe"); err == nil && pid > 1 && exe == testserverBin && leadsGroup(pid) {
				syscall.Kill(-pid, syscall.SIGKILL)
			}
		}
	})
	return s
}

// run runs the dorritctl binary: COMMAND --piddir DIR ARGS…
func (s *svc) run(t *testing.T, command string, args ...string) result {
	t.Helper()
	return s.runAs(t, nil, command, args...)
}

// runAs is run under other credentials (nil: ours).
func (s *svc) runAs(t *testing.T, cred *syscall.Credential, command string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, dorritctlBin, append([]string{command, "--piddir", s.dir}, args...)...)
	cmd.Env = s.env
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("dorritctl %s: %v", command, err)
	}
	r := result{out.String(), errb.String(), cmd.ProcessState.ExitCode()}
	if (command == "start" || command == "restart") && r.code == 0 {
		s.tie(t)
	}
	return r
}

// tie ties the supervisor that now runs, a daemon in a session of its own,
// to the test: it dies with the test process, even one killed midway.
func (s *svc) tie(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dir, s.name+".pid"))
	if err != nil {
		return
	}
	if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 && leadsGroup(pid) {
		testproc.Tie(t, pid)
	}
}

// start runs dorritctl start with the test server and its flags.
func (s *svc) start(t *testing.T, flags ...string) result {
	t.Helper()
	return s.run(t, "start", append([]string{s.name, "--", testserverBin, "-l", s.sock}, flags...)...)
}

// status runs dorritctl status --json and decodes it.
func (s *svc) status(t *testing.T) *statusReport {
	t.Helper()
	r := s.run(t, "status", s.name, "--json")
	var rep statusReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("status --json: %v\n%v", err, r)
	}
	if rep.Exit != r.code {
		t.Fatalf("status --json says exit %d and exited %d", rep.Exit, r.code)
	}
	return &rep
}

// pidfilePID is the PID in the pidfile.
func (s *svc) pidfilePID(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dir, s.name+".pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pidfile holds %q", b)
	}
	return pid
}

// expectGone checks that the pidfile, the control socket and the public
// socket are gone.
func (s *svc) expectGone(t *testing.T) {
	t.Helper()
	for _, path := range []string{filepath.Join(s.dir, s.name+".pid"), filepath.Join(s.dir, s.name+".ctl"), s.sock} {
		if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind (%v)", path, err)
		}
	}
}

// waitUntil retries ok until it holds, for at most 20 s.
func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 20s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// clients converse with the server in a loop (dial, one message, its
// answer, close), counting what went wrong.
type clients struct {
	mu                  sync.Mutex
	ok, refused, failed int
	lastErr             error
	stop                chan struct{}
	wg                  sync.WaitGroup
}

func converseLoop(sock string, n int) *clients {
	l := &clients{stop: make(chan struct{})}
	for range n {
		l.wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				err := converseOnce(sock)
				l.mu.Lock()
				switch {
				case err == nil:
					l.ok++
				case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.EAGAIN):
					l.refused++
				default:
					l.failed++
					l.lastErr = err
				}
				l.mu.Unlock()
			}
		})
	}
	return l
}

func converseOnce(sock string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := dial(ctx, sock, handshake{})
	if err != nil {
		return err
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte("ping")); err != nil {
		return err
	}
	if _, msg, err := c.Read(ctx); err != nil || string(msg) != "ping" {
		return errors.Join(errors.New("no echo"), err)
	}
	return c.Close(websocket.StatusNormalClosure, "")
}

func (l *clients) served() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ok
}

func (l *clients) finish() (ok, refused, failed int, lastErr error) {
	close(l.stop)
	l.wg.Wait()
	return l.ok, l.refused, l.failed, l.lastErr
}

var (
	liveLine    = regexp.MustCompile(`(?m)^  connections\s+3 now`)
	processLine = regexp.MustCompile(`(?m)^  server process\s+PID (\d+) as nobody:\S+, up \S+, 3 connections$`)
)

// start → status with the PID and 3 live connections, in text and JSON →
// reload under load (a new server PID, no refused connect) → restart (a
// new supervisor, the same command line) → stop (status 3, every file
// gone).
func TestServiceLifecycle(t *testing.T) {
	needRoot(t)
	s := newSvc(t, "ctltest-life")
	if r := s.run(t, "status", s.name); r.code != statusNotRunning || !strings.Contains(r.stdout, "is not running") {
		t.Fatalf("status before the start: want 3, not running\n%v", r)
	}
	r := s.start(t)
	if r.code != 0 || !strings.Contains(r.stdout, "started: supervisor PID") {
		t.Fatalf("start:\n%v", r)
	}
	supervisor := s.pidfilePID(t)
	if !strings.Contains(r.stdout, "supervisor PID "+strconv.Itoa(supervisor)) {
		t.Fatalf("start names another PID than the pidfile's %d:\n%v", supervisor, r)
	}
	if r := s.start(t); r.code != 0 || !strings.Contains(r.stdout, "already running as PID "+strconv.Itoa(supervisor)) {
		t.Fatalf("start of a running server: want 0 and already running:\n%v", r)
	}

	// Three connections, seen in text and in JSON.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for range 3 {
		c, _, err := dial(ctx, s.sock, handshake{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		go func() { c.Read(ctx) }() // answers pings; ends at the drain's 1001
	}
	r = s.run(t, "status", s.name)
	if r.code != 0 || !liveLine.MatchString(r.stdout) || !processLine.MatchString(r.stdout) ||
		!strings.Contains(r.stdout, "supervisor PID "+strconv.Itoa(supervisor)) ||
		!strings.Contains(r.stdout, "handshake       answered: 101") ||
		!strings.Contains(r.stdout, s.sock+" (srwxrwx---, owner nobody") {
		t.Fatalf("status with 3 connections open:\n%v", r)
	}
	server, _ := strconv.Atoi(processLine.FindStringSubmatch(r.stdout)[1])
	rep := s.status(t)
	st := rep.Status
	if rep.State != "running" || rep.PID != supervisor || st == nil || st.Serving() == nil ||
		st.Serving().PID != server || st.Serving().Stats.Live != 3 || st.Total.Live != 3 ||
		rep.Handshake == nil || !rep.Handshake.Upgraded {
		t.Fatalf("status --json with 3 connections open: %+v (status %+v)", rep, st)
	}
	if st.Supervisor.Binary != testserverBin || !slices.Equal(st.Supervisor.Args, []string{"-l", s.sock}) {
		t.Fatalf("status has the command line %s %q", st.Supervisor.Binary, st.Supervisor.Args)
	}

	// --watch refreshes until interrupted.
	watch := exec.Command(dorritctlBin, "status", s.name, "--piddir", s.dir, "--watch", "--interval", "50ms")
	out, _ := watch.StdoutPipe()
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	sc, reports := bufio.NewScanner(out), 0
	for reports < 2 && sc.Scan() {
		if strings.HasPrefix(sc.Text(), s.name+" is running") {
			reports++
		}
	}
	watch.Process.Signal(os.Interrupt)
	if err := watch.Wait(); reports < 2 || err != nil {
		t.Fatalf("status --watch: %d reports, then %v", reports, err)
	}

	// reload under load: a new server process, nothing refused.
	load := converseLoop(s.sock, 8)
	waitUntil(t, "answers before the reload", func() bool { return load.served() > 10 })
	r = s.run(t, "reload", s.name)
	if r.code != 0 || !strings.Contains(r.stdout, "replaced PID "+strconv.Itoa(server)) {
		t.Fatalf("reload:\n%v", r)
	}
	before := load.served()
	waitUntil(t, "answers after the reload", func() bool { return load.served() > before+10 })
	ok, refused, failed, lastErr := load.finish()
	if refused+failed != 0 {
		t.Fatalf("during the reload: %d conversations, %d connects refused, %d failed (last: %v)", ok, refused, failed, lastErr)
	}
	rep = s.status(t)
	if sp := rep.Status.Serving(); sp == nil || sp.PID == server || rep.Status.Upgrades != 1 || rep.PID != supervisor {
		t.Fatalf("status after the reload: %+v", rep.Status)
	}

	// restart: a new supervisor with the same command line.
	r = s.run(t, "restart", s.name)
	if r.code != 0 || !strings.Contains(r.stdout, "(was PID "+strconv.Itoa(supervisor)+")") {
		t.Fatalf("restart:\n%v", r)
	}
	restarted := s.pidfilePID(t)
	rep = s.status(t)
	if restarted == supervisor || rep.PID != restarted || !slices.Equal(rep.Status.Supervisor.Args, []string{"-l", s.sock}) {
		t.Fatalf("after restart: pidfile %d (was %d), status %+v", restarted, supervisor, rep.Status)
	}

	r = s.run(t, "stop", s.name)
	if r.code != 0 || !strings.Contains(r.stdout, "stopped (supervisor PID "+strconv.Itoa(restarted)) {
		t.Fatalf("stop:\n%v", r)
	}
	if r := s.run(t, "status", s.name); r.code != statusNotRunning {
		t.Fatalf("status after stop: want 3\n%v", r)
	}
	s.expectGone(t)
	if r := s.run(t, "stop", s.name); r.code != 0 || !strings.Contains(r.stdout, "not running") {
		t.Fatalf("stop of a stopped server: want 0 (LSB) and not running\n%v", r)
	}
	if r := s.run(t, "reload", s.name); r.code != exitNotRunning {
		t.Fatalf("reload of a stopped server: want 7\n%v", r)
	}
}

// A server whose Serve ignores the stop: stop gives up after its timeout
// and says to use --force; stop --force kills it and its server process
// and removes what they leave behind.
func TestServiceStopForce(t *testing.T) {
	needRoot(t)
	s := newSvc(t, "ctltest-force", "TESTSERVER_HANG=1", "TESTSERVER_DRAIN=60s")
	if r := s.start(t); r.code != 0 {
		t.Fatalf("start:\n%v", r)
	}
	supervisor := s.pidfilePID(t)
	server := s.status(t).Status.Serving().PID

	r := s.run(t, "stop", s.name, "--timeout", "1s")
	if r.code != exitFailure || !strings.Contains(r.stderr, "--force") || !alive(supervisor) {
		t.Fatalf("stop of a server that hangs: want 1 and a word about --force, and the server still there\n%v", r)
	}
	start := time.Now()
	r = s.run(t, "stop", s.name, "--timeout", "1s", "--force")
	if r.code != 0 || !strings.Contains(r.stdout, "killed") {
		t.Fatalf("stop --force:\n%v", r)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("stop --force --timeout 1s took %v", took)
	}
	if alive(supervisor) || alive(server) {
		t.Fatalf("after stop --force: supervisor %d alive %v, server process %d alive %v", supervisor, alive(supervisor), server, alive(server))
	}
	if r := s.run(t, "status", s.name); r.code != statusNotRunning {
		t.Fatalf("status after stop --force: want 3\n%v", r)
	}
	s.expectGone(t)
}
