//go:build cgo && (linux || freebsd)

package main

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/dorritgo/dorrit/internal/wstest"
)

// proc is a server started in the foreground (-x): its supervisor process,
// its socket and its stderr lines.
type proc struct {
	cmd  *exec.Cmd
	sock string
	pid  int // the server process, which runs the callbacks

	mu    sync.Mutex
	lines []string
	more  chan struct{}
	done  chan struct{}
}

var acceptingPid = regexp.MustCompile(`msg=accepting .*pid=(\d+)`)

// start runs bin -x -l <socket> with args and waits until it accepts.
func start(t testing.TB, bin string, args ...string) *proc {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o777)
	p := &proc{sock: filepath.Join(dir, "s.sock"), more: make(chan struct{}, 1), done: make(chan struct{})}
	p.cmd = exec.Command(bin, append([]string{"-x", "-l", p.sock}, args...)...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // so that cleanup reaches the server process too
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
			select {
			case p.more <- struct{}{}:
			default:
			}
		}
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		if t.Failed() {
			t.Logf("%s stderr:\n%s", filepath.Base(bin), p.stderr())
		}
	})
	p.pid, _ = strconv.Atoi(p.waitLine(t, acceptingPid)[1])
	return p
}

// waitLine waits for a stderr line matching re and returns its submatches.
func (p *proc) waitLine(t testing.TB, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		if m := p.find(re); m != nil {
			return m
		}
		select {
		case <-p.more:
		case <-p.done:
			if m := p.find(re); m != nil {
				return m
			}
			t.Fatalf("server exited (%v) without a line matching %q", p.cmd.ProcessState, re)
		case <-deadline:
			t.Fatalf("no line matching %q within 20s", re)
		}
	}
}

// waitCount waits until n stderr lines match re.
func (p *proc) waitCount(t testing.TB, re *regexp.Regexp, n int) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		p.mu.Lock()
		k := 0
		for _, l := range p.lines {
			if re.MatchString(l) {
				k++
			}
		}
		p.mu.Unlock()
		if k >= n {
			return
		}
		select {
		case <-p.more:
		case <-p.done:
			t.Fatalf("server exited (%v) with %d lines matching %q; want %d", p.cmd.ProcessState, k, re, n)
		case <-deadline:
			t.Fatalf("%d lines matching %q within 20s; want %d", k, re, n)
		}
	}
}

func (p *proc) find(re *regexp.Regexp) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.lines {
		if m := re.FindStringSubmatch(l); m != nil {
			return m
		}
	}
	return nil
}

func (p *proc) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// stop sends SIGTERM and gives the exit status.
func (p *proc) stop(t testing.TB) int {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatal("server did not stop within 20s after SIGTERM")
	}
	return p.cmd.ProcessState.ExitCode()
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
