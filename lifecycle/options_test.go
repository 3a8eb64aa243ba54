package lifecycle_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dorritgo/dorrit/internal/testproc"
	"github.com/dorritgo/dorrit/internal/wstest"
)

// ask sends msg to the server and returns its answer.
func ask(sock, msg string) (string, error) {
	c, _, err := dialRaw(sock)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := c.WriteText([]byte(msg)); err != nil {
		return "", err
	}
	_, answer, err := c.ReadMessage()
	return string(answer), err
}

// runToExit runs the test server with args until it exits (killing it and
// its server processes after 20 s) and returns its exit status and output.
func runToExit(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(testserver, args...)
	cmd.Env = append(os.Environ(), env...)
	p := testproc.Start(t, cmd, testproc.Options{})
	select {
	case <-p.Done():
	case <-time.After(20 * time.Second):
		p.Kill()
		t.Fatalf("%v still running after 20 s; output:\n%s", args, p.Output())
	}
	if err := p.Err(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatal(err)
		}
	}
	// Its last lines, which may come just after the exit.
	p.WaitOutput()
	return cmd.ProcessState.ExitCode(), p.Output()
}

// Options set in code are the flags' defaults: the server runs with them
// where the command line says nothing, with the flags' values where it
// does, and the options no flag sets reach the server process untouched.
func TestFlagsDefaultToServerOptions(t *testing.T) {
	dir := sharedDir(t)
	sock := filepath.Join(dir, "app.sock")
	env := []string{"TESTSERVER_OPT_NAME=ltest-opts", "TESTSERVER_OPT_PATH=" + sock, "TESTSERVER_OPT_BUFFER=1000",
		"TESTSERVER_OPT_MAXCONNS=7", "TESTSERVER_OPT_PING=1h", "TESTSERVER_OPT_PONG=2m"}
	if os.Geteuid() == 0 {
		env = append(env, "TESTSERVER_OPT_SOCKETGROUP=daemon")
	}

	p, _ := startForeground(t, env)
	got, err := ask(sock, "options")
	if err != nil {
		t.Fatalf("no server on Options.Path %s: %v\n%s", sock, err, p.stderr())
	}
	want := "Name=ltest-opts Path=" + sock + " BufferSize=1000 MaxConns=7 PingInterval=1h0m0s PongTimeout=2m0s"
	if got != want {
		t.Fatalf("server runs with\n\t%s\nwant the options given in code\n\t%s", got, want)
	}
	// The listener really has them: a message of BufferSize-4 bytes is
	// too large, and the eighth connection is refused.
	c, _, err := dialRaw(sock)
	if err != nil {
		t.Fatal(err)
	}
	c.WriteText(make([]byte, 996))
	if code, _, _, err := c.ExpectClose(10 * time.Second); code != 1009 {
		t.Fatalf("a message of 996 bytes with BufferSize 1000: close %d (%v), want 1009", code, err)
	}
	c.Close()
	var conns []*wstest.Conn
	for range 7 {
		c, _, err := dialRaw(sock)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	var he *wstest.HandshakeError
	if _, _, err := dialRaw(sock); !errors.As(err, &he) || he.Response.StatusCode != 503 {
		t.Fatalf("eighth connection with MaxConns 7: %v, want 503", err)
	}
	for _, c := range conns {
		c.Close()
	}
	if os.Geteuid() == 0 {
		fi, err := os.Lstat(sock)
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 65534 || st.Gid != 1 {
			t.Fatalf("socket owned by %d:%d, want nobody (-u) and daemon (Options.SocketGroup) 65534:1", st.Uid, st.Gid)
		}
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit status %d", code)
	}

	other := filepath.Join(dir, "other.sock")
	p, _ = startForeground(t, env, "-l", other, "-b", "2000", "-m", "5")
	got, err = ask(other, "options")
	want = "Name=ltest-opts Path=" + other + " BufferSize=2000 MaxConns=5 PingInterval=1h0m0s PongTimeout=2m0s"
	if err != nil || got != want {
		t.Fatalf("with -l -b -m the server runs with\n\t%s (%v)\nwant\n\t%s", got, err, want)
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit status %d", code)
	}

	code, out := runToExit(t, env, "-help")
	if code != 0 {
		t.Fatalf("-help: exit status %d", code)
	}
	for _, def := range []string{"(default 1000)", "(default 7)", `(default "` + sock + `")`} {
		if !strings.Contains(out, def) {
			t.Fatalf("-help does not show the code's default %s:\n%s", def, out)
		}
	}
}

// A value outside a flag's range is a usage error (exit 2) that names the
// range, before anything starts: -m 0 no longer means 2000.
func TestBadFlagValuesAreUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-m", "0"}, `invalid value "0" for flag -m: the maximum number of connections must be 1 or more`},
		{[]string{"-m", "-3"}, `invalid value "-3" for flag -m: the maximum number of connections must be 1 or more`},
		{[]string{"-m", "many"}, `invalid value "many" for flag -m`},
		{[]string{"-b", "5"}, `invalid value "5" for flag -b: the buffer size must be 10..65540`},
		{[]string{"-b", "70000"}, `invalid value "70000" for flag -b: the buffer size must be 10..65540`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			sock := filepath.Join(sharedDir(t), "s.sock")
			code, out := runToExit(t, []string{"TESTSERVER_NAME=ltest-usage"}, append([]string{"-x", "-l", sock}, tc.args...)...)
			if code != 2 || !strings.Contains(out, tc.want) {
				t.Fatalf("exit status %d, want 2 with %q; output:\n%s", code, tc.want, out)
			}
			if strings.Contains(out, "init as uid") {
				t.Fatalf("Init ran after a usage error:\n%s", out)
			}
			if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("a usage error left the socket behind")
			}
		})
	}
}

// -h is the manual's humdinger flag, kept for old command lines. A user
// who types it for help must not be left with a silent daemon: the start
// says on its stderr, before it detaches, that -h changes nothing and that
// -help lists the flags, once.
func TestDashHSaysItChangesNothing(t *testing.T) {
	needRoot(t) // for the pidfile, through which the daemon is stopped
	dir := sharedDir(t)
	sock, pidPath := filepath.Join(dir, "s.sock"), filepath.Join(dir, "ltest-dashh.pid")
	code, out := runToExit(t, []string{"TESTSERVER_NAME=ltest-dashh", "TESTSERVER_PIDDIR=" + dir}, "-h", "-l", sock)
	if b, err := os.ReadFile(pidPath); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			t.Cleanup(func() {
				syscall.Kill(pid, syscall.SIGTERM)
				waitGone(t, pid)
			})
		}
	}
	if code != 0 {
		t.Fatalf("exit status %d, want 0 (the daemon starts: -h is accepted); output:\n%s", code, out)
	}
	const note = "-h changes nothing"
	if n := strings.Count(out, note); n != 1 {
		t.Fatalf("%q said %d times, want once; output:\n%s", note, n, out)
	}
	if !strings.Contains(out, "-help lists the flags") {
		t.Fatalf("the start does not point to -help; output:\n%s", out)
	}
	if _, err := whoami(sock); err != nil {
		t.Fatalf("the daemon started with -h does not serve: %v", err)
	}
}

// In the foreground the note comes once too, from the process started, not
// again from the server process, and the server runs.
func TestDashHInTheForeground(t *testing.T) {
	dir := sharedDir(t)
	sock := filepath.Join(dir, "s.sock")
	p, _ := startForeground(t, []string{"TESTSERVER_NAME=ltest-dashhx"}, "-h", "-l", sock)
	if _, err := whoami(sock); err != nil {
		t.Fatalf("the server started with -h does not serve: %v", err)
	}
	p.stop(t)
	if n := strings.Count(p.stderr(), "-h changes nothing"); n != 1 {
		t.Fatalf("the note said %d times, want once; stderr:\n%s", n, p.stderr())
	}
}
