//go:build cgo && (linux || freebsd)

package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/dorritgo/dorrit/internal/testproc"
	"github.com/dorritgo/dorrit/internal/wstest"
)

// proc is a server started in the foreground (-x): its supervisor process,
// its socket and its output lines.
type proc struct {
	*testproc.Proc
	cmd  *exec.Cmd
	done <-chan struct{}
	sock string
	pid  int // the server process, which runs the callbacks
}

var acceptingPid = regexp.MustCompile(`msg=accepting .*pid=(\d+)`)

// start runs bin -x -l <socket> with args and waits until it accepts; its
// process group is killed when the test ends, or the test process dies.
func start(t testing.TB, bin string, args ...string) *proc {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o777)
	sock := filepath.Join(dir, "s.sock")
	cmd := exec.Command(bin, append([]string{"-x", "-l", sock}, args...)...)
	tp := testproc.Start(t, cmd, testproc.Options{})
	p := &proc{Proc: tp, cmd: cmd, done: tp.Done(), sock: sock}
	p.pid, _ = strconv.Atoi(p.waitLine(t, acceptingPid)[1])
	return p
}

// waitLine waits for an output line matching re and returns its submatches.
func (p *proc) waitLine(t testing.TB, re *regexp.Regexp) []string {
	t.Helper()
	return p.WaitLine(t, re)
}

// waitCount waits until n output lines match re.
func (p *proc) waitCount(t testing.TB, re *regexp.Regexp, n int) {
	t.Helper()
	p.WaitCount(t, re, n)
}

func (p *proc) find(re *regexp.Regexp) []string {
	for _, l := range p.Lines() {
		if m := re.FindStringSubmatch(l); m != nil {
			return m
		}
	}
	return nil
}

func (p *proc) stderr() string { return p.Output() }

// stop sends SIGTERM and gives the exit status.
func (p *proc) stop(t testing.TB) int {
	t.Helper()
	return p.Stop(t, syscall.SIGTERM, 20*time.Second)
}

// dial connects coder/websocket, the project's client, to the server.
func (p *proc) dial(t testing.TB, opts *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	c, _, err := p.dialErr(opts)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(-1)
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func (p *proc) dialErr(opts *websocket.DialOptions) (*websocket.Conn, *http.Response, error) {
	if opts == nil {
		opts = &websocket.DialOptions{}
	}
	opts.HTTPClient = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", p.sock)
		},
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return websocket.Dial(ctx, "ws://localhost/", opts)
}

// raw connects the raw-frame client, which can break the protocol on purpose.
func (p *proc) raw(t testing.TB) *wstest.Conn {
	t.Helper()
	c, _, err := wstest.Dial(p.sock, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
