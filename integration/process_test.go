package integration

import (
	"net"
	"os"
	"os/exec"
	"os/user"
	"syscall"
	"testing"
	"time"

	"github.com/dorritgo/dorrit/internal/testproc"
)

// startProcess starts cmd in a process group of its own and stops it when
// the test ends: SIGTERM, then SIGKILL to the group after 5 s; the group
// is killed too when the test process dies without its cleanups (go test
// killed). Its output is logged when the test failed. The channel is
// closed when it exits.
func startProcess(t *testing.T, name string, cmd *exec.Cmd) <-chan struct{} {
	t.Helper()
	return testproc.Start(t, cmd, testproc.Options{Name: name, Stop: syscall.SIGTERM, Grace: 5 * time.Second}).Done()
}

// waitDial waits until something accepts on network/addr, failing the
// test when the process meant to listen there exits first.
func waitDial(t *testing.T, network, addr string, done <-chan struct{}) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout(network, addr, time.Second); err == nil {
			c.Close()
			return
		}
		select {
		case <-done:
			t.Fatalf("the process meant to listen on %s exited", addr)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("nothing listens on %s after 15 s", addr)
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// sharedDir is a temporary directory every account may enter and read
// (t.TempDir's are 0700): for sockets and the pages nginx's workers serve.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "dorrit-integration")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// nobodyGroup is nobody's primary group (Debian: nogroup): as root, the
// servers drop to nobody and give their socket this group, and nginx's
// workers run as nobody in it.
func nobodyGroup(t *testing.T) string {
	t.Helper()
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody here")
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		t.Skipf("nobody's primary group %s does not exist", u.Gid)
	}
	return g.Name
}

// A process is a program a test started.
type process struct {
	cmd  *exec.Cmd
	done <-chan struct{} // closed when it has exited
}

// startServer runs a lifecycle server binary in the foreground (-x) on
// socket, then flags, and waits until it accepts there. As root it runs
// as nobody with the socket in nobody's group (-g), which the front
// servers' workers are in.
func startServer(t *testing.T, name, bin, socket string, flags []string, env ...string) *process {
	t.Helper()
	args := []string{"-x", "-l", socket}
	if os.Geteuid() == 0 {
		args = append(args, "-g", nobodyGroup(t))
	}
	cmd := exec.Command(bin, append(args, flags...)...)
	cmd.Env = append(os.Environ(), env...)
	done := startProcess(t, name, cmd)
	waitDial(t, "unix", socket, done)
	return &process{cmd, done}
}
