//go:build linux

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
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dorritgo/dorrit/internal/testproc"
)

// A server run with -x by hand, its control socket at -control PATH:
// dorritctl status --control PATH shows it running with its live figures
// (text and JSON), --watch refreshes, and once SIGTERM stopped it the
// socket is gone and status says it is not running.
func TestStatusForeground(t *testing.T) {
	needRoot(t)
	dir := sharedDir(t)
	sock, ctlPath := filepath.Join(dir, "fg.sock"), filepath.Join(dir, "fg.ctl")
	cmd := exec.Command(testserverBin, "-x", "-l", sock, "-control", ctlPath)
	cmd.Env = append(os.Environ(), "TESTSERVER_NAME=ctltest-fg", "TESTSERVER_PIDDIR="+dir)
	p := testproc.Start(t, cmd, testproc.Options{Wait: 15 * time.Second})
	m := p.WaitLine(t, regexp.MustCompile(`msg=accepting .*pid=(\d+)`))
	server, _ := strconv.Atoi(m[1])
	supervisor := cmd.Process.Pid

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for range 3 {
		c, _, err := dial(ctx, sock, handshake{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		go func() { c.Read(ctx) }() // answers pings; ends at the drain's 1001
	}
	// The figures reach the supervisor with the server's heartbeat.
	var rep statusReport
	waitUntil(t, "3 live connections in status --json", func() bool {
		out, err := exec.Command(dorritctlBin, "status", "--control", ctlPath, "--json").Output()
		if err != nil || json.Unmarshal(out, &rep) != nil {
			t.Fatalf("status --control --json: %v\n%s", err, out)
		}
		return rep.Status != nil && rep.Status.Total.Live == 3
	})
	st := rep.Status
	if rep.Name != "ctltest-fg" || rep.State != "running" || rep.Exit != 0 || rep.PID != supervisor ||
		rep.Control != ctlPath || rep.Pidfile != "" || st.Supervisor.Control != ctlPath ||
		st.Serving() == nil || st.Serving().PID != server || st.Serving().Stats.Live != 3 ||
		rep.Handshake == nil || !rep.Handshake.Upgraded {
		t.Fatalf("status --control --json of a foreground server with 3 connections: %+v (status %+v)", rep, st)
	}

	out, err := exec.Command(dorritctlBin, "status", "--control", ctlPath).CombinedOutput()
	text := string(out)
	if err != nil || !strings.HasPrefix(text, "ctltest-fg is running: supervisor PID "+strconv.Itoa(supervisor)) ||
		!strings.Contains(text, "foreground") || !liveLine.MatchString(text) || !processLine.MatchString(text) ||
		!strings.Contains(text, "handshake       answered: 101") || !strings.Contains(text, "control         "+ctlPath) {
		t.Fatalf("status --control with 3 connections open (%v):\n%s", err, text)
	}
	// NAME and --control together: the pidfile is looked for (none, -x).
	if out, err := exec.Command(dorritctlBin, "status", "ctltest-fg", "--piddir", dir, "--control", ctlPath).CombinedOutput(); err != nil ||
		!strings.HasPrefix(string(out), "ctltest-fg is running: supervisor PID "+strconv.Itoa(supervisor)) {
		t.Fatalf("status NAME --control (%v):\n%s", err, out)
	}

	// --watch refreshes: two reports, then Ctrl-C.
	watch := exec.Command(dorritctlBin, "status", "--control", ctlPath, "--watch", "--interval", "50ms")
	pipe, _ := watch.StdoutPipe()
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	sc, reports := bufio.NewScanner(pipe), 0
	for reports < 2 && sc.Scan() {
		if strings.HasPrefix(sc.Text(), "ctltest-fg is running") {
			reports++
		}
	}
	watch.Process.Signal(os.Interrupt)
	if err := watch.Wait(); reports < 2 || err != nil {
		t.Fatalf("status --control --watch: %d reports, then %v", reports, err)
	}

	if code := p.Stop(t, syscall.SIGTERM, 20*time.Second); code != 0 {
		t.Fatalf("SIGTERM: exit %d\n%s", code, p.Output())
	}
	if _, err := os.Lstat(ctlPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("control socket left after SIGTERM (%v)", err)
	}
	out, err = exec.Command(dorritctlBin, "status", "--control", ctlPath).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != statusNotRunning || !strings.Contains(string(out), "not running") ||
		!strings.Contains(string(out), ctlPath) {
		t.Fatalf("status --control after the stop: want 3, not running, naming %s (%v)\n%s", ctlPath, err, out)
	}
}

// reload and stop reach a foreground server by --control too: SIGHUP to
// the supervisor that answers there (a new server process), then SIGTERM
// and the wait until it is gone, its control socket with it.
func TestReloadStopByControl(t *testing.T) {
	needRoot(t)
	dir := sharedDir(t)
	sock, ctlPath := filepath.Join(dir, "rs.sock"), filepath.Join(dir, "rs.ctl")
	cmd := exec.Command(testserverBin, "-x", "-l", sock, "-control", ctlPath)
	cmd.Env = append(os.Environ(), "TESTSERVER_NAME=ctltest-rs", "TESTSERVER_PIDDIR="+dir)
	p := testproc.Start(t, cmd, testproc.Options{Wait: 15 * time.Second})
	m := p.WaitLine(t, regexp.MustCompile(`msg=accepting .*pid=(\d+)`))

	out, err := exec.Command(dorritctlBin, "reload", "--control", ctlPath).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "ctltest-rs reloaded: server process PID ") || !strings.Contains(string(out), "replaced PID "+m[1]) {
		t.Fatalf("reload --control (%v):\n%s", err, out)
	}
	out, err = exec.Command(dorritctlBin, "stop", "--control", ctlPath).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "ctltest-rs stopped (supervisor PID "+strconv.Itoa(cmd.Process.Pid)) {
		t.Fatalf("stop --control (%v):\n%s", err, out)
	}
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Fatalf("stop --control returned, and the server still runs:\n%s", p.Output())
	}
	if _, err := os.Lstat(ctlPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("control socket left after stop --control (%v)", err)
	}
}
