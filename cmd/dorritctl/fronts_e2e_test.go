package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/dorritgo/dorrit"
)

// The generated configurations at work: each front server runs with the
// file dorritctl prints, in front of a real dorrit echo server, and a
// WebSocket with a browser's Origin goes through it. That the echo comes
// back shows the upgrade is forwarded and the Host kept (dorrit refuses an
// Origin that is not the Host with 403).
func TestFrontsEndToEnd(t *testing.T) {
	fronts := []struct {
		name  string
		start func(t *testing.T, dir, socket, listen string) *exec.Cmd
	}{
		{"nginx", startNginx},
		{"haproxy", startHAProxy},
		{"caddy", startCaddy},
		{"apache", startApache},
	}
	for _, f := range fronts {
		t.Run(f.name, func(t *testing.T) {
			o := dorrit.Options{Path: filepath.Join(sharedDir(t), "echo.socket")}
			if os.Geteuid() == 0 {
				o.SocketGroup = nobodyGroup(t) // the fronts' workers run as nobody
			}
			socket := startEcho(t, o)
			listen := "127.0.0.1:" + freePort(t)
			runFront(t, f.name, f.start(t, t.TempDir(), socket, listen), listen)
			echoThrough(t, listen)
			closeCodesThrough(t, listen)
		})
	}
}

// runFront starts a front server and waits until it accepts on listen;
// it is stopped when the test ends.
func runFront(t *testing.T, name string, cmd *exec.Cmd, listen string) {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		// A graceful stop, then the whole process group: Apache, stopped
		// while it replaces a child, now and then waits 10 s for it.
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			t.Logf("%s said:\n%s", name, out.String())
		}
	})
	waitTCP(t, listen, done)
}

// echoThrough opens a browser-like WebSocket to http://listen/ws.
func echoThrough(t *testing.T, listen string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws://"+listen+"/ws", &websocket.DialOptions{
		HTTPHeader: map[string][]string{"Origin": {"http://" + listen}},
	})
	if err != nil {
		if resp != nil {
			t.Fatalf("handshake through the front: %v (%s)", err, refusalText(resp))
		}
		t.Fatalf("handshake through the front: %v", err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte("through the front")); err != nil {
		t.Fatal(err)
	}
	_, msg, err := c.Read(ctx)
	if err != nil || string(msg) != "through the front" {
		t.Fatalf("echo: %q, %v", msg, err)
	}
	c.Close(websocket.StatusNormalClosure, "")
}

// closeCodesThrough fails connections through the front while the client
// is still sending, ten times each way: the client must read the close
// code every time. Before dorrit lingered after its close frame, the front
// server's write into the closed socket failed and it dropped both sides
// without forwarding the close frame (nginx: 2 to 8 of 10).
func closeCodesThrough(t *testing.T, listen string) {
	t.Helper()
	cases := []struct {
		name string
		typ  websocket.MessageType
		msg  []byte
		want websocket.StatusCode
	}{
		{"over-size", websocket.MessageText, bytes.Repeat([]byte("x"), 70000), websocket.StatusMessageTooBig},
		{"binary", websocket.MessageBinary, bytes.Repeat([]byte("b"), 30000), websocket.StatusUnsupportedData},
		{"bad UTF-8", websocket.MessageText, append(bytes.Repeat([]byte("u"), 30000), 0xff, 0xfe), websocket.StatusInvalidFramePayloadData},
	}
	for _, tc := range cases {
		for i := range 10 {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			c, _, err := websocket.Dial(ctx, "ws://"+listen+"/ws", &websocket.DialOptions{
				HTTPHeader: map[string][]string{"Origin": {"http://" + listen}},
			})
			if err != nil {
				cancel()
				t.Fatalf("%s %d: handshake: %v", tc.name, i, err)
			}
			c.Write(ctx, tc.typ, tc.msg) // may fail once the server has closed: what matters is what the client reads
			_, _, err = c.Read(ctx)
			c.CloseNow()
			cancel()
			if got := websocket.CloseStatus(err); got != tc.want {
				t.Fatalf("%s, try %d of 10: the client read %v (close code %d), want %d", tc.name, i+1, err, got, tc.want)
			}
		}
	}
}

func startNginx(t *testing.T, dir, socket, listen string) *exec.Cmd {
	nginx := tool(t, "nginx")
	snippet := writeFile(t, filepath.Join(dir, "echo.conf"), generate(t, "nginx", "echo", "--socket", socket, "--listen", listen))
	extra := "daemon off;"
	if os.Geteuid() == 0 {
		extra += "\nuser nobody " + nobodyGroup(t) + ";"
	}
	conf := writeFile(t, filepath.Join(dir, "nginx.conf"), nginxConf(dir, snippet, extra))
	return exec.Command(nginx, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", conf)
}

func startHAProxy(t *testing.T, dir, socket, listen string) *exec.Cmd {
	haproxy := tool(t, "haproxy")
	cfg := writeFile(t, filepath.Join(dir, "echo.cfg"), generate(t, "haproxy", "echo", "--socket", socket, "--listen", listen))
	return exec.Command(haproxy, "-db", "-f", cfg)
}

func startCaddy(t *testing.T, dir, socket, listen string) *exec.Cmd {
	caddy := tool(t, "caddy")
	// No admin endpoint: it would take port 2019.
	text := "{\n\tadmin off\n}\n\n" + generate(t, "caddy", "echo", "--socket", socket, "--listen", listen)
	file := writeFile(t, filepath.Join(dir, "Caddyfile"), text)
	cmd := exec.Command(caddy, "run", "--config", file, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), caddyEnv(dir)...)
	return cmd
}

func startApache(t *testing.T, dir, socket, listen string) *exec.Cmd {
	apache := tool(t, "apache2")
	site := writeFile(t, filepath.Join(dir, "echo.conf"), generate(t, "apache", "echo", "--socket", socket, "--listen", listen))
	extra := ""
	if os.Geteuid() == 0 {
		extra = "User nobody\nGroup " + nobodyGroup(t)
	}
	conf := writeFile(t, filepath.Join(dir, "httpd.conf"), apacheConf(t, dir, site, extra))
	return exec.Command(apache, "-DFOREGROUND", "-f", conf)
}
