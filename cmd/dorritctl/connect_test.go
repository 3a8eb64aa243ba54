package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/dorritgo/dorrit"
)

func TestConnectSend(t *testing.T) {
	sock := startEcho(t, dorrit.Options{})
	r := ctl("", "connect", sock, "--send", "hello, dorrit")
	if r.code != 0 || r.stdout != "hello, dorrit\n" {
		t.Fatalf("want the echo and exit 0:\n%v", r)
	}
	// Flags before the operand, a header, a sub-protocol offered.
	r = ctl("", "connect", "--send", "x", "-H", "Cookie: a=b", "--subprotocol", "chat", sock)
	if r.code != 0 || r.stdout != "x\n" {
		t.Fatalf("%v", r)
	}
	// An empty message is a message: the echo sends it back.
	r = ctl("", "connect", sock, "--send=")
	if r.code != 0 || r.stdout != "\n" {
		t.Fatalf("want the empty echo and exit 0:\n%v", r)
	}
}

// The handshake reaches the server with what the flags say.
func TestConnectHandshakeFields(t *testing.T) {
	got := make(chan *http.Request, 1)
	sock := startEcho(t, dorrit.Options{
		Subprotocols: []string{"chat"},
		Authorize: func(r *http.Request) (any, error) {
			got <- r
			return nil, nil
		},
	})
	r := ctl("", "connect", sock, "--send", "x", "-H", "Cookie: session=42", "--subprotocol", "chat",
		"--origin", "http://example.com", "--host", "example.com")
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	req := <-got
	if req.Host != "example.com" || req.Header.Get("Cookie") != "session=42" ||
		req.Header.Get("Origin") != "http://example.com" || req.Header.Get("Sec-WebSocket-Protocol") != "chat" {
		t.Errorf("request: host %q, header %v", req.Host, req.Header)
	}
}

// A refused handshake: non-zero, the HTTP status and dorrit's explanation.
func TestConnectRefused(t *testing.T) {
	sock := startEcho(t, dorrit.Options{
		Authorize: func(r *http.Request) (any, error) {
			if r.Header.Get("Cookie") == "" {
				return nil, errors.New("log in first: no session cookie")
			}
			return nil, nil
		},
	})
	r := ctl("", "connect", sock, "--send", "hello")
	if r.code != exitFailure || r.stdout != "" {
		t.Fatalf("want exit 1 and no output:\n%v", r)
	}
	for _, want := range []string{"403 Forbidden", "log in first: no session cookie"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr does not say %q:\n%v", want, r)
		}
	}
	if r := ctl("", "connect", sock, "--send", "hello", "-H", "Cookie: s=1"); r.code != 0 {
		t.Errorf("with the cookie: %v", r)
	}

	// A browser's origin that is not the Host: the body names the fix.
	r = ctl("", "connect", sock, "--send", "hello", "-H", "Cookie: s=1", "--origin", "https://evil.example")
	if r.code != exitFailure || !strings.Contains(r.stderr, "403") || !strings.Contains(r.stderr, "proxy_set_header Host") {
		t.Errorf("cross-origin: %v", r)
	}
}

// At the connection limit: 503 and Retry-After.
func TestConnectBusy(t *testing.T) {
	sock := startEcho(t, dorrit.Options{MaxConns: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := dial(ctx, sock, handshake{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	r := ctl("", "connect", sock, "--send", "hello")
	if r.code != exitFailure || !strings.Contains(r.stderr, "503") || !strings.Contains(r.stderr, "Retry-After") {
		t.Errorf("want 503 with Retry-After:\n%v", r)
	}
}

func TestConnectNotRunning(t *testing.T) {
	dir := t.TempDir()
	r := ctl("", "connect", filepath.Join(dir, "none.socket"), "--send", "x")
	if r.code != exitNotRunning || !strings.Contains(r.stderr, "no socket at") {
		t.Errorf("missing socket: %v", r)
	}

	// A socket file left by a server that is gone.
	stale := filepath.Join(dir, "stale.socket")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	r = ctl("", "connect", stale, "--send", "x")
	if r.code != exitNotRunning || !strings.Contains(r.stderr, "nothing listens") {
		t.Errorf("stale socket: %v", r)
	}

	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, nil, 0o644)
	r = ctl("", "connect", plain, "--send", "x")
	if r.code != exitFailure || !strings.Contains(r.stderr, "not a socket") {
		t.Errorf("regular file: %v", r)
	}
}

// Lines in, answers out; end of input closes normally after the answers.
func TestConnectInteractive(t *testing.T) {
	sock := startEcho(t, dorrit.Options{})
	r := ctl("one\n\ntwo\nthree\n", "connect", sock)
	if r.code != 0 || r.stdout != "one\ntwo\nthree\n" {
		t.Fatalf("want the three lines back and exit 0:\n%v", r)
	}
}

// The server closing the connection ends connect with its code.
func TestConnectServerCloses(t *testing.T) {
	path := filepath.Join(sharedDir(t), "closer.socket")
	ln, err := dorrit.Listen(dorrit.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		msg, err := c.Read(context.Background())
		if err == nil {
			c.Write(msg)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ln.Shutdown(ctx) // 1001 to the client
	}()
	pr, pw, _ := os.Pipe()
	defer pw.Close()
	pw.WriteString("first\n")
	var out, errb strings.Builder
	code := run([]string{"connect", path}, &streams{stdin: pr, stdout: &out, stderr: &errb})
	if code != exitFailure || out.String() != "first\n" || !strings.Contains(errb.String(), "1001") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 1, the answer, and close code 1001", code, out.String(), errb.String())
	}
}

// closeText names the codes a dorrit server closes with.
func TestCloseText(t *testing.T) {
	err := websocket.CloseError{Code: websocket.StatusMessageTooBig, Reason: "frame over 65535 bytes"}
	if got := closeText(err); !strings.Contains(got, "1009") || !strings.Contains(got, "-b") || !strings.Contains(got, "65535") {
		t.Errorf("closeText = %q", got)
	}
}

// A message over the server's limit: the close code and what it means.
func TestConnectTooBig(t *testing.T) {
	sock := startEcho(t, dorrit.Options{BufferSize: 10}) // 5-byte messages
	r := ctl("", "connect", sock, "--send", "longer than five bytes")
	if r.code != exitFailure || !strings.Contains(r.stderr, "1009") || !strings.Contains(r.stderr, "-b") {
		t.Errorf("want exit 1 and close code 1009 explained:\n%v", r)
	}
}

// Input that is not a terminal gets no "< " before the answers, even when
// it is a character device: /dev/null, as under cron or systemd.
func TestConnectNoPromptWithoutTerminal(t *testing.T) {
	path := filepath.Join(sharedDir(t), "greeter.socket")
	ln, err := dorrit.Listen(dorrit.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("welcome"))
			go func() {
				defer c.Close()
				for {
					if _, err := c.Read(context.Background()); err != nil {
						return
					}
				}
			}()
		}
	}()
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	var out, errb strings.Builder
	code := run([]string{"connect", path}, &streams{stdin: null, stdout: &out, stderr: &errb})
	if code != 0 || out.String() != "welcome\n" || errb.String() != "" {
		t.Errorf("exit %d, stdout %q, stderr %q; want 0, the greeting alone, nothing on stderr", code, out.String(), errb.String())
	}
}
