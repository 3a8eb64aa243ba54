package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/dorritgo/dorrit/internal/testproc"
)

// startDev runs dorritctl dev with args and returns once it is ready, with
// the URL it printed. Its first start builds the echo example: minutes on
// a busy machine.
func startDev(t *testing.T, args ...string) (*testproc.Proc, string) {
	t.Helper()
	cmd := exec.Command(dorritctlBin, append([]string{"dev"}, args...)...)
	p := testproc.Start(t, cmd, testproc.Options{Name: "dorritctl dev", Stop: syscall.SIGTERM, Grace: 30 * time.Second, Wait: 2 * time.Minute})
	m := p.WaitLine(t, regexp.MustCompile(`open (http://\S+/) in a browser`))
	p.WaitLine(t, regexp.MustCompile(`Ctrl-C stops`)) // the last line at start
	return p, m[1]
}

// stopDev sends SIGTERM and returns the exit status.
func stopDev(t *testing.T, p *testproc.Proc) int {
	t.Helper()
	return p.Stop(t, syscall.SIGTERM, 30*time.Second)
}

// The page, and a WebSocket echo through the dev front as a browser on
// that page would open it: Origin is the front's own origin.
func TestDev(t *testing.T) {
	p, url := startDev(t, "--addr", "127.0.0.1:0", "--", echoBin)
	out := p.Output()
	for _, want := range []string{"not a production", "Ctrl-C"} {
		if !strings.Contains(out, want) {
			t.Errorf("dev should say %q:\n%s", want, out)
		}
	}
	socket := p.WaitLine(t, regexp.MustCompile(`goes to the server on (\S+)`))[1]

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
	p.WaitLine(t, regexp.MustCompile(`refused a WebSocket handshake: 403`))

	// SIGTERM: the client hears 1001 (going away) from the server, dev
	// exits 0, and the server and its socket are gone.
	if code := stopDev(t, p); code != 0 {
		t.Errorf("exit %d after SIGTERM:\n%s", code, p.Output())
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
	if !strings.Contains(p.Output(), "building "+echoPackage) {
		t.Errorf("dev should say it builds the echo example:\n%s", p.Output())
	}
	origin := strings.TrimSuffix(url, "/")
	r := ctl("", "connect", "--send", "hi", "--origin", origin, "--host", strings.TrimPrefix(origin, "http://"),
		p.WaitLine(t, regexp.MustCompile(`goes to the server on (\S+)`))[1])
	if r.code != 0 || r.stdout != "hi\n" {
		t.Errorf("%v", r)
	}
	if code := stopDev(t, p); code != 0 {
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
	if !strings.HasPrefix(url, "http://127.0.0.1:") || !strings.Contains(p.Output(), "warning: serving on") {
		t.Errorf("url %s:\n%s", url, p.Output())
	}
	if resp, err := http.Get(url); err != nil || resp.StatusCode != 200 {
		t.Errorf("GET %s: %v", url, err)
	}
	if code := stopDev(t, p); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
}
