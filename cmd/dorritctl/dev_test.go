package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// devProc is a running dorritctl dev and its stderr.
type devProc struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	more  chan struct{}
	done  chan struct{}
}

// startDev runs dorritctl dev with args and returns once it is ready, with
// the URL it printed.
func startDev(t *testing.T, args ...string) (*devProc, string) {
	t.Helper()
	cmd := exec.Command(dorritctlBin, append([]string{"dev"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &devProc{cmd: cmd, more: make(chan struct{}, 1), done: make(chan struct{})}
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
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("dorritctl dev said:\n%s", p.output())
		}
	})
	m := p.wait(t, regexp.MustCompile(`open (http://\S+/) in a browser`), 2*time.Minute)
	p.wait(t, regexp.MustCompile(`Ctrl-C stops`), 5*time.Second) // the last line at start
	return p, m[1]
}

func (p *devProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// wait returns the submatches of the first line matching re.
func (p *devProc) wait(t *testing.T, re *regexp.Regexp, limit time.Duration) []string {
	t.Helper()
	deadline := time.After(limit)
	for {
		p.mu.Lock()
		for _, l := range p.lines {
			if m := re.FindStringSubmatch(l); m != nil {
				p.mu.Unlock()
				return m
			}
		}
		p.mu.Unlock()
		select {
		case <-p.more:
		case <-p.done:
			// The last lines may have come with the end.
			p.mu.Lock()
			for _, l := range p.lines {
				if m := re.FindStringSubmatch(l); m != nil {
					p.mu.Unlock()
					return m
				}
			}
			p.mu.Unlock()
			t.Fatalf("dorritctl dev ended without printing %q:\n%s", re, p.output())
		case <-deadline:
			t.Fatalf("dorritctl dev did not print %q within %v:\n%s", re, limit, p.output())
		}
	}
}

// stop sends SIGTERM and returns the exit status.
func (p *devProc) stop(t *testing.T) int {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("dorritctl dev did not stop within 30 s of SIGTERM:\n%s", p.output())
	}
	return p.cmd.ProcessState.ExitCode()
}

// The page, and a WebSocket echo through the dev front as a browser on
// that page would open it: Origin is the front's own origin.
func TestDev(t *testing.T) {
	p, url := startDev(t, "--addr", "127.0.0.1:0", "--", echoBin)
	out := p.output()
	for _, want := range []string{"not a production", "Ctrl-C"} {
		if !strings.Contains(out, want) {
			t.Errorf("dev should say %q:\n%s", want, out)
		}
	}
	socket := p.wait(t, regexp.MustCompile(`goes to the server on (\S+)`), time.Second)[1]

	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{"new WebSocket(", `location.host + "/ws"`, `id="state"`, `id="log"`, `id="msg"`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the page has no %q", want)
		}
	}
	if resp, err := http.Get(url + "nothing-here"); err != nil || resp.StatusCode != 404 {
		t.Errorf("GET /nothing-here: %v %v", resp.Status, err)
	}

	origin := strings.TrimSuffix(url, "/")
	ws := "ws" + strings.TrimPrefix(origin, "http") + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, ws, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {origin}}})
	if err != nil {
		if resp != nil {
			t.Fatalf("%v: %s", err, refusalText(resp))
		}
		t.Fatal(err)
	}
	for _, msg := range []string{"hello", "from the page"} {
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		_, got, err := c.Read(ctx)
		if err != nil || string(got) != msg {
			t.Fatalf("echo: %q, %v", got, err)
		}
	}

	// Another site's page is refused by the server, and the terminal says why.
	_, resp, err = websocket.Dial(ctx, ws, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"http://evil.example"}}})
	if err == nil || resp == nil || resp.StatusCode != 403 {
		t.Errorf("cross-site: want 403, got %v", err)
	}
	p.wait(t, regexp.MustCompile(`refused a WebSocket handshake: 403`), 5*time.Second)

	// SIGTERM: the client hears 1001 (going away) from the server, dev
	// exits 0, and the server and its socket are gone.
	if code := p.stop(t); code != 0 {
		t.Errorf("exit %d after SIGTERM:\n%s", code, p.output())
	}
	if _, _, err := c.Read(ctx); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Errorf("the open connection ended with %v, want 1001", err)
	}
	if _, err := os.Stat(socket); !os.IsNotExist(err) {
		t.Errorf("the temporary socket %s is still there: %v", socket, err)
	}
}

// Without a server, dev builds and runs the echo example.
func TestDevDefaultServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the echo example")
	}
	p, url := startDev(t, "--addr", "127.0.0.1:0")
	if !strings.Contains(p.output(), "building "+echoPackage) {
		t.Errorf("dev should say it builds the echo example:\n%s", p.output())
	}
	origin := strings.TrimSuffix(url, "/")
	r := ctl("", "connect", "--send", "hi", "--origin", origin, "--host", strings.TrimPrefix(origin, "http://"),
		p.wait(t, regexp.MustCompile(`goes to the server on (\S+)`), time.Second)[1])
	if r.code != 0 || r.stdout != "hi\n" {
		t.Errorf("%v", r)
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
}

// A server that cannot start: dev says so and exits 1.
func TestDevServerFails(t *testing.T) {
	cmd := exec.Command(dorritctlBin, "dev", "--addr", "127.0.0.1:0", "--", "/bin/false")
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != exitFailure || !strings.Contains(string(out), "exited before it accepted connections") {
		t.Errorf("want exit 1 and the reason: %v\n%s", err, out)
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "[::1]:8080": true, "localhost:8080": true,
		"0.0.0.0:8080": false, ":8080": false, "192.0.2.1:80": false,
	} {
		if got, err := isLoopback(addr); err != nil || got != want {
			t.Errorf("isLoopback(%q) = %v, %v; want %v", addr, got, err, want)
		}
	}
}

// --public opens a non-loopback address, with a warning, and the URL
// printed is one a browser here can use.
func TestDevPublic(t *testing.T) {
	p, url := startDev(t, "--public", "--addr", "0.0.0.0:0", "--", echoBin)
	if !strings.HasPrefix(url, "http://127.0.0.1:") || !strings.Contains(p.output(), "warning: serving on") {
		t.Errorf("url %s:\n%s", url, p.output())
	}
	if resp, err := http.Get(url); err != nil || resp.StatusCode != 200 {
		t.Errorf("GET %s: %v", url, err)
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
}
