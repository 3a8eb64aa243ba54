package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/internal/procmem"
	"github.com/dorritgo/dorrit/internal/testproc"
)

// Binaries the tests run as real processes, built once by TestMain.
var (
	dorritctlBin  string
	echoBin       string
	testserverBin string // lifecycle's test server: a daemon with a PidDir of the test's choosing
)

func TestMain(m *testing.M) {
	testproc.Main(m,
		testproc.Program{Bin: &dorritctlBin, Pkg: "."},
		testproc.Program{Bin: &echoBin, Pkg: echoPackage},
		testproc.Program{Bin: &testserverBin, Pkg: modulePath + "/lifecycle/internal/testserver"},
	)
}

// result is what one in-process run of dorritctl gave.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// ctl runs dorritctl with args in this process, stdin given.
func ctl(stdin string, args ...string) result {
	var out, errb bytes.Buffer
	code := run(args, &streams{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb})
	return result{out.String(), errb.String(), code}
}

// sharedDir is a temporary directory that every account may enter, its
// parents included (t.TempDir's parent is mode 0700).
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "dorritctl-test")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// startEcho runs an echo server in this process on o.Path (default: a
// socket in a shared directory) until the test ends.
func startEcho(t *testing.T, o dorrit.Options) string {
	t.Helper()
	if o.Path == "" {
		o.Path = filepath.Join(sharedDir(t), "echo.socket")
	}
	ln, err := dorrit.Listen(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ln.Shutdown(ctx)
	})
	go procmem.Echo(ln)
	return o.Path
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CI runs as root): this test checks what another account can reach")
	}
}

// freePort finds a loopback port nobody listens on.
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

// waitTCP waits until something accepts on addr.
func waitTCP(t *testing.T, addr string, done <-chan struct{}) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		select {
		case <-done:
			t.Fatalf("the process meant to listen on %s exited", addr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("nothing listens on %s after 15 s", addr)
}
