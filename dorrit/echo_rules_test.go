//go:build cgo && (linux || freebsd)

package main

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/dorritgo/dorrit/internal/wstest"
)

// The manual's echo server in C (examples/echo.c on libdorrit.a) and the
// Go one (examples/echo) obey the same rules: each rule below runs against
// both, each time on a freshly started server process.
var echoServers = []struct {
	name string
	bin  func(testing.TB) string
}{
	{"echo.c", cEcho},
	{"examples-echo", goEcho},
}

var echoRules = []struct {
	name  string
	args  []string
	check func(t *testing.T, p *proc)
}{
	{"echoes text messages in order", nil, func(t *testing.T, p *proc) {
		c := p.dial(t, nil)
		ctx := ctxT(t)
		msgs := []string{"a", "hello", strings.Repeat("é", 3000), strings.Repeat("x", 65535)}
		for i := range 50 {
			msgs = append(msgs, strings.Repeat("m", i+1))
		}
		for _, m := range msgs { // pipelined: all out before the first answer is read
			if err := c.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
				t.Fatal(err)
			}
		}
		for i, m := range msgs {
			typ, got, err := c.Read(ctx)
			if err != nil || typ != websocket.MessageText || string(got) != m {
				t.Fatalf("answer %d: %v %d bytes %v; want %d bytes", i, typ, len(got), err, len(m))
			}
		}
	}},
	{"keeps a client that sends an empty message", nil, func(t *testing.T, p *proc) {
		// The Go echo sends it back (Write sends empty messages); the C
		// API keeps the manual's -2 for a length below 1, so echo.c skips it.
		c := p.raw(t)
		c.WriteText(nil)
		c.WriteText([]byte("after"))
		_, got, err := c.ReadMessage()
		if err == nil && len(got) == 0 {
			_, got, err = c.ReadMessage()
		}
		if err != nil || string(got) != "after" {
			t.Fatalf("got %q, %v; want %q echoed after the empty message (echoed or skipped)", got, err, "after")
		}
	}},
	{"reassembles a fragmented message", nil, func(t *testing.T, p *proc) {
		c := p.raw(t)
		c.WriteFrame(wstest.Frame{Opcode: wstest.OpText, Payload: []byte("frag")})
		c.WriteFrame(wstest.Frame{Opcode: wstest.OpContinuation, Payload: []byte("men")})
		c.WriteFrame(wstest.Frame{Fin: true, Opcode: wstest.OpContinuation, Payload: []byte("ted")})
		if _, got, err := c.ReadMessage(); err != nil || string(got) != "fragmented" {
			t.Fatalf("got %q, %v", got, err)
		}
	}},
	{"answers the messages that came with the client's close before closing", nil, func(t *testing.T, p *proc) {
		c := p.raw(t)
		for i := range 20 {
			c.WriteFrameNoFlush(wstest.Frame{Fin: true, Opcode: wstest.OpText, Payload: []byte(fmt.Sprint("last words ", i))})
		}
		closeFrame := wstest.Frame{Fin: true, Opcode: wstest.OpClose, Payload: []byte{0x03, 0xe8}} // 1000
		c.WriteFrameNoFlush(closeFrame)
		c.Flush() // all in one write: the server reads them together
		for i := range 20 {
			if _, got, err := c.ReadMessage(); err != nil || string(got) != fmt.Sprint("last words ", i) {
				t.Fatalf("echo %d: %q, %v; want every message answered before the close", i, got, err)
			}
		}
		if code, _, _, err := c.ExpectClose(10 * time.Second); err != nil || code != 1000 {
			t.Fatalf("close: %d, %v; want 1000", code, err)
		}
	}},
	{"answers a ping with a pong while idle", nil, func(t *testing.T, p *proc) {
		c := p.raw(t)
		if err := c.Ping([]byte("are you there")); err != nil {
			t.Fatal(err)
		}
		f, err := c.ReadFrame()
		if err != nil || f.Opcode != wstest.OpPong || string(f.Payload) != "are you there" {
			t.Fatalf("got %+v, %v; want the pong", f, err)
		}
	}},
	{"drops a binary message with 1003", nil, func(t *testing.T, p *proc) {
		expectClose(t, p, 1003, func(c *wstest.Conn) { c.WriteBinary([]byte("bin")) })
	}},
	{"drops invalid UTF-8 with 1007", nil, func(t *testing.T, p *proc) {
		expectClose(t, p, 1007, func(c *wstest.Conn) { c.WriteText([]byte{'o', 'k', 0xff}) })
	}},
	{"drops a frame over -b less 5 with 1009", []string{"-b", "100"}, func(t *testing.T, p *proc) {
		expectClose(t, p, 1009, func(c *wstest.Conn) {
			fits := bytes.Repeat([]byte("f"), 95)
			c.WriteText(fits)
			if _, got, err := c.ReadMessage(); err != nil || !bytes.Equal(got, fits) {
				t.Fatalf("95 bytes with -b 100: got %d bytes, %v", len(got), err)
			}
			c.WriteText(bytes.Repeat([]byte("f"), 96))
		})
	}},
	{"refuses the connection past -m with 503", []string{"-m", "1"}, func(t *testing.T, p *proc) {
		first := p.raw(t)
		first.WriteText([]byte("1"))
		if _, _, err := first.ReadMessage(); err != nil {
			t.Fatal(err)
		}
		_, _, err := wstest.Dial(p.sock, nil)
		var he *wstest.HandshakeError
		if !errors.As(err, &he) || he.Response.StatusCode != http.StatusServiceUnavailable || he.Response.Header.Get("Retry-After") == "" {
			t.Fatalf("second connection with -m 1: %v; want 503 with Retry-After", err)
		}
		first.WriteText([]byte("still here"))
		if _, got, err := first.ReadMessage(); err != nil || string(got) != "still here" {
			t.Fatalf("first connection after the refusal: %q, %v", got, err)
		}
	}},
	{"stops on SIGTERM: 1001, exit 0, socket removed", nil, func(t *testing.T, p *proc) {
		c := p.raw(t)
		c.WriteText([]byte("before"))
		if _, got, err := c.ReadMessage(); err != nil || string(got) != "before" {
			t.Fatalf("got %q, %v", got, err)
		}
		p.cmd.Process.Signal(syscall.SIGTERM)
		if code, _, _, err := c.ExpectClose(10 * time.Second); err != nil || code != 1001 {
			t.Fatalf("close after SIGTERM: code %d, %v; want 1001", code, err)
		}
		if status := p.stop(t); status != 0 {
			t.Fatalf("exit status %d after SIGTERM; want 0", status)
		}
		if _, err := os.Stat(p.sock); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("socket after stop: %v; want it removed", err)
		}
	}},
}

func TestEchoRules(t *testing.T) {
	for _, s := range echoServers {
		t.Run(s.name, func(t *testing.T) {
			bin := s.bin(t)
			for _, r := range echoRules {
				t.Run(r.name, func(t *testing.T) {
					r.check(t, start(t, bin, r.args...))
				})
			}
		})
	}
}

// expectClose connects, does what breaks the rule, and expects the
// server's close frame with code.
func expectClose(t *testing.T, p *proc, code int, do func(c *wstest.Conn)) {
	t.Helper()
	c := p.raw(t)
	do(c)
	got, reason, _, err := c.ExpectClose(10 * time.Second)
	if err != nil || got != code {
		t.Fatalf("close code %d (%q), %v; want %d", got, reason, err, code)
	}
	// One bad client never disturbs another.
	other := p.raw(t)
	other.WriteText([]byte("fine"))
	if _, msg, err := other.ReadMessage(); err != nil || string(msg) != "fine" {
		t.Fatalf("another client after the drop: %q, %v", msg, err)
	}
}
