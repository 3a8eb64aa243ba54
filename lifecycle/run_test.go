package lifecycle_test

import (
	"context"
	"errors"
	"flag"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/lifecycle"
)

// Run embedded in a program with a subcommand and a flag of its own: every
// server process parses the arguments Run was given, which it could not
// work out again (part came from the starting process's stdin), also the
// one SIGHUP starts; Run returns only in the process that called it; and
// the end of its ctx stops the server gracefully, as SIGTERM does.
func TestRunEmbedded(t *testing.T) {
	sock := filepath.Join(sharedDir(t), "s.sock")
	cmd := exec.Command(testserver, "serve", "-", "-x", "-l", sock)
	cmd.Stdin = strings.NewReader("-greeting\nbonjour\n")
	p := runServerCmd(t, cmd, []string{"TESTSERVER_NAME=ltest-run", "TESTSERVER_RUN=1"})
	pid, _ := strconv.Atoi(p.waitLine(t, acceptingPid)[1])
	if got, err := ask(sock, "greeting"); err != nil || got != "pid="+strconv.Itoa(pid)+" bonjour" {
		t.Fatalf("greeting: %q (%v); want the server process %d to have -greeting bonjour from Run's args\n%s", got, err, pid, p.stderr())
	}

	p.cmd.Process.Signal(syscall.SIGHUP)
	var got string
	waitFor(t, "a greeting from the server process SIGHUP started", func() bool {
		var err error
		got, err = ask(sock, "greeting")
		return err == nil && pidOf(got) != pid
	})
	if !strings.HasSuffix(got, " bonjour") {
		t.Fatalf("after SIGHUP the greeting is %q; want bonjour from Run's args", got)
	}

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
	p.cmd.Process.Signal(syscall.SIGUSR1) // cancels Run's ctx
	if code, _, _, err := c.ExpectClose(10 * time.Second); err != nil || code != 1001 {
		t.Fatalf("when Run's ctx ended the client got close %d (%v), want 1001", code, err)
	}
	c.WriteClose(1001, "")
	p.waitLine(t, regexp.MustCompile(`run returned`))
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("still running 20 s after Run's ctx ended:\n%s", p.stderr())
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit status %d after Run's ctx ended:\n%s", code, p.stderr())
	}
	want := "run returned in pid " + strconv.Itoa(p.cmd.Process.Pid) + ": <nil>"
	if n := strings.Count(p.stderr(), "run returned"); n != 1 || !strings.Contains(p.stderr(), want) {
		t.Fatalf("want Run to return once, in the starting process (%q); stderr:\n%s", want, p.stderr())
	}
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket left after Run's ctx ended: %v", err)
	}
}

// Run's errors reach its caller: a usage error (exit status 2 as before),
// and a second daemon's *AlreadyRunningError with the running one's PID.
// A detached start returns nil once the daemon accepts.
func TestRunErrorsReachTheCaller(t *testing.T) {
	env := []string{"TESTSERVER_NAME=ltest-runerr", "TESTSERVER_RUN=1"}
	code, out := runToExit(t, env, "serve", "-x", "-m", "0")
	if code != 2 || !strings.Contains(out, "(usage true,") {
		t.Fatalf("-m 0: exit status %d, want 2 and ErrUsage; output:\n%s", code, out)
	}

	needRoot(t)
	dir := sharedDir(t)
	sock, pidPath := filepath.Join(dir, "s.sock"), filepath.Join(dir, "ltest-runerr.pid")
	env = append(env, "TESTSERVER_PIDDIR="+dir)
	code, out = runToExit(t, env, "serve", "-l", sock)
	if code != 0 || !strings.Contains(out, ": <nil>") {
		t.Fatalf("detached start: exit status %d; output:\n%s", code, out)
	}
	b, _ := os.ReadFile(pidPath)
	daemon, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pidfile holds %q", b)
	}
	t.Cleanup(func() { syscall.Kill(-daemon, syscall.SIGKILL) })
	code, out = runToExit(t, env, "serve", "-l", filepath.Join(dir, "other.sock"))
	if want := "(usage false, already running true as " + strconv.Itoa(daemon) + ")"; code != 1 || !strings.Contains(out, want) {
		t.Fatalf("second start: exit status %d, want 1 and %s; output:\n%s", code, want, out)
	}
	syscall.Kill(daemon, syscall.SIGTERM)
	waitGone(t, daemon)
}

// Mistakes in the Server are errors from Run, before anything starts.
func TestRunRefusesMisuse(t *testing.T) {
	serve := func(context.Context, *dorrit.Listener, *lifecycle.Config) error { return nil }
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		s    lifecycle.Server
		want string
	}{
		{"no Serve", ctx, lifecycle.Server{}, "Serve is nil"},
		{"a Listener", ctx, lifecycle.Server{Serve: serve, Options: dorrit.Options{Listener: ln}}, "Options.Listener is set"},
		{"a manual's flag redefined", ctx, lifecycle.Server{Serve: serve, Flags: func(fs *flag.FlagSet) {
			fs.String("l", "", "my own -l")
		}}, "Server.Flags defines -l"},
		{"Configure refuses", ctx, lifecycle.Server{Serve: serve, Configure: func(*lifecycle.Config) error {
			return errors.New("-ping must be positive")
		}}, "bad command line: -ping must be positive"},
		{"ctx ended", cancelled, lifecycle.Server{Serve: serve}, context.Canceled.Error()},
		{"a Periodic without interval", ctx, lifecycle.Server{Serve: serve, Periodic: []lifecycle.Periodic{{Func: func(context.Context) {}}}},
			"Periodic[0].Every is 0s: give a positive interval"},
		{"a Periodic without Func", ctx, lifecycle.Server{Serve: serve, Periodic: []lifecycle.Periodic{{Every: time.Second}}},
			"Periodic[0].Func is nil"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := lifecycle.Run(tc.ctx, tc.s, []string{"-x", "-l", filepath.Join(t.TempDir(), "s.sock")})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run: %v; want an error saying %q", err, tc.want)
			}
			if tc.name == "Configure refuses" && !errors.Is(err, lifecycle.ErrUsage) {
				t.Fatalf("Run: %v; want an error matching ErrUsage", err)
			}
		})
	}
}

// The pidfile is per name: a second daemon of the same name is refused even
// on another socket, with a message that says why and what to do, and the
// first one is left alone; a daemon of another name starts beside it.
func TestPidfileIsPerName(t *testing.T) {
	needRoot(t)
	dir := sharedDir(t)
	start := func(name, sock string) (int, string) {
		return runToExit(t, []string{"TESTSERVER_NAME=" + name, "TESTSERVER_PIDDIR=" + dir}, "-l", filepath.Join(dir, sock))
	}
	daemon := func(name string) int {
		t.Helper()
		b, _ := os.ReadFile(filepath.Join(dir, name+".pid"))
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatalf("pidfile of %s holds %q", name, b)
		}
		t.Cleanup(func() { syscall.Kill(-pid, syscall.SIGKILL) })
		return pid
	}
	if code, out := start("ltest-one", "one.sock"); code != 0 {
		t.Fatalf("first start: exit status %d\n%s", code, out)
	}
	first := daemon("ltest-one")

	code, out := start("ltest-one", "two.sock")
	want := "already running as PID " + strconv.Itoa(first)
	hint := "a second instance on another socket needs -x (no pidfile) or another Server.Name"
	if code != 1 || !strings.Contains(out, want) || !strings.Contains(out, hint) {
		t.Fatalf("second start of the same name: exit status %d; want 1, %q and %q:\n%s", code, want, hint, out)
	}
	if _, err := os.Lstat(filepath.Join(dir, "two.sock")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the refused start left its socket behind")
	}
	if _, err := whoami(filepath.Join(dir, "one.sock")); err != nil {
		t.Fatalf("the first daemon stopped serving: %v", err)
	}

	if code, out := start("ltest-two", "two.sock"); code != 0 {
		t.Fatalf("a daemon of another name: exit status %d\n%s", code, out)
	}
	second := daemon("ltest-two")
	for _, sock := range []string{"one.sock", "two.sock"} {
		if _, err := whoami(filepath.Join(dir, sock)); err != nil {
			t.Fatalf("%s: %v", sock, err)
		}
	}
	for _, pid := range []int{first, second} {
		syscall.Kill(pid, syscall.SIGTERM)
		waitGone(t, pid)
	}
}
