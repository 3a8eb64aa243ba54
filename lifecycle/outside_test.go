package lifecycle_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// datagrams listens on a unixgram socket and collects what arrives.
func datagrams(t *testing.T, path string) <-chan string {
	t.Helper()
	c := listenDatagrams(t, path)
	out := make(chan string, 100)
	go func() {
		buf := make([]byte, 8192)
		for {
			n, err := c.Read(buf)
			if err != nil {
				close(out)
				return
			}
			out <- string(buf[:n])
		}
	}()
	return out
}

// listenDatagrams opens a unix datagram socket at path that the server
// processes, running as nobody, may write to; closed when the test ends.
// datagrams below and the recorders of operator_test.go read it.
func listenDatagrams(t *testing.T, path string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o666)
	t.Cleanup(func() { c.Close() })
	return c
}

// expectDatagram waits for a datagram containing want.
func expectDatagram(t *testing.T, ch <-chan string, want string) string {
	t.Helper()
	timeout := time.After(15 * time.Second)
	var seen []string
	for {
		select {
		case d := <-ch:
			if strings.Contains(d, want) {
				return d
			}
			seen = append(seen, d)
		case <-timeout:
			t.Fatalf("no datagram containing %q within 15s; got %q", want, seen)
		}
	}
}

// A detached server logs to syslog under its name: the supervisor's lines
// and a crashed server process's panic message, which stderr would lose.
func TestSyslog(t *testing.T) {
	dir := sharedDir(t)
	logs := datagrams(t, filepath.Join(dir, "log"))
	sock := filepath.Join(dir, "s.sock")
	cmd := exec.Command(testserver, "-l", sock)
	cmd.Env = append(os.Environ(), "TESTSERVER_NAME=ltest-syslog", "TESTSERVER_PIDDIR="+dir, "TESTSERVER_SYSLOG="+filepath.Join(dir, "log"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("start: %v\n%s", err, out)
	}
	line := expectDatagram(t, logs, "msg=accepting")
	if !strings.Contains(line, "ltest-syslog[") || !strings.HasPrefix(line, "<30>") { // daemon.info
		t.Fatalf("syslog line %q lacks the server's name or the daemon facility", line)
	}
	id, err := whoami(sock)
	if err != nil {
		t.Fatal(err)
	}
	child := pidOf(id)
	supervisor := parentOf(t, child)
	t.Cleanup(func() { syscall.Kill(-supervisor, syscall.SIGKILL) })

	c, _, err := dialRaw(sock)
	if err != nil {
		t.Fatal(err)
	}
	c.WriteText([]byte("panic"))
	crash := expectDatagram(t, logs, "panic requested by a client")
	if !strings.HasPrefix(crash, "<27>") { // daemon.err
		t.Fatalf("panic logged as %q, want severity err", crash)
	}
	expectDatagram(t, logs, "server crashed; restarting")
	syscall.Kill(supervisor, syscall.SIGTERM)
	expectDatagram(t, logs, "stopping")
	waitGone(t, supervisor)
}

func parentOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// Under systemd: the socket comes from LISTEN_FDS and is never unlinked, and
// READY=1, RELOADING=1 and STOPPING=1 reach NOTIFY_SOCKET.
func TestSystemd(t *testing.T) {
	dir := sharedDir(t)
	notes := datagrams(t, filepath.Join(dir, "notify"))
	sock := filepath.Join(dir, "s.sock")
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ul.SetUnlinkOnClose(false)
	os.Chmod(sock, 0o777)
	f, _ := ul.File()
	ul.Close()
	// systemd sets LISTEN_PID to the service's own pid, known only once it runs.
	p := runServerCmd(t, exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" -x`, testserver),
		[]string{"TESTSERVER_NAME=ltest-systemd", "NOTIFY_SOCKET=" + filepath.Join(dir, "notify")}, f)
	f.Close()
	expectDatagram(t, notes, "READY=1")
	if _, err := whoami(sock); err != nil {
		t.Fatalf("server on systemd's socket: %v", err)
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	expectDatagram(t, notes, "RELOADING=1")
	expectDatagram(t, notes, "READY=1")
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit status %d", code)
	}
	expectDatagram(t, notes, "STOPPING=1")
	if _, err := os.Lstat(sock); err != nil {
		t.Fatalf("systemd's socket file was removed: %v", err)
	}
}
