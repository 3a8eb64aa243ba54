package protocol_test

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/dorritgo/dorrit/internal/protocol"
)

// The tables check the core against frames the tests encode themselves;
// here a real client (github.com/coder/websocket, the project's client)
// talks to the smallest engine that drives a Conn over a real socket: one
// goroutine that reads, feeds Receive, echoes, and writes Output.

// echoEngine serves one connection: the upgrade answered by hand, then
// the core.
func echoEngine(t *testing.T, nc net.Conn, maxPayload int, events chan<- protocol.Event) {
	defer nc.Close()
	br := bufio.NewReader(nc)
	req, err := http.ReadRequest(br)
	if err != nil {
		t.Error(err)
		return
	}
	sum := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	answer := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n"
	c := protocol.New(&protocol.Config{MaxPayload: maxPayload, Pool: pool{}}, 0)
	defer c.CloseNow()
	b := pool{}.Get(len(answer))
	*b = append(*b, answer...)
	c.Preface(b)
	flush := func() bool {
		for {
			var iov [16][]byte
			out := c.Output(iov[:0])
			if len(out) == 0 {
				return true
			}
			bufs := net.Buffers(out)
			n, err := bufs.WriteTo(nc)
			c.Wrote(int(n))
			if err != nil {
				return false
			}
		}
	}
	buf := make([]byte, 4096)
	for flush() {
		switch c.State() {
		case protocol.Linger:
			nc.(*net.UnixConn).CloseWrite() // the end of stream follows the close frame
		case protocol.Closed:
			return
		}
		n, err := br.Read(buf) // the bufio.Reader holds what came behind the request
		for p := buf[:n]; len(p) > 0; {
			k, ev := c.Receive(p)
			p = p[k:]
			switch ev.Kind {
			case protocol.Message:
				if string(ev.Message) == "big" {
					c.Write([]byte(bigMessage))
				} else {
					c.Write(ev.Message)
				}
			case protocol.None:
			default:
				events <- ev
			}
		}
		if err != nil {
			if ev := c.ReceiveEOF(); ev.Kind != protocol.None {
				events <- ev
			}
		}
	}
}

// bigMessage is what the engine answers to "big": 150 KB, so fragments
// of 1000 bytes, cut inside characters.
var bigMessage = strings.Repeat("\u20ac", 50000)

// dial starts an engine on a fresh socket and connects the client to it.
func dial(t *testing.T, maxPayload int) (*websocket.Conn, <-chan protocol.Event) {
	path := filepath.Join(t.TempDir(), "s")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan protocol.Event, 10)
	go func() {
		nc, err := ln.Accept()
		ln.Close()
		if err == nil {
			echoEngine(t, nc, maxPayload, events)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	c, _, err := websocket.Dial(ctx, "ws://localhost/", &websocket.DialOptions{HTTPClient: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(-1)
	t.Cleanup(func() { c.CloseNow() })
	return c, events
}

func TestRealClientEcho(t *testing.T) {
	c, events := dial(t, 1000)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, msg := range []string{"hello", "", strings.Repeat("x", 1000), "big"} {
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		want := msg
		if msg == "big" {
			want = bigMessage
		}
		typ, got, err := c.Read(ctx)
		if err != nil || typ != websocket.MessageText || string(got) != want {
			t.Fatalf("answer to %d bytes: %v %d bytes, %v", len(msg), typ, len(got), err)
		}
	}
	// A ping is answered while the client reads.
	go c.Read(ctx)
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	// The client's close is answered with its code; the handshake completes.
	if err := c.Close(4000, "bye"); err != nil {
		t.Fatalf("close: %v", err)
	}
	if ev := <-events; ev.Kind != protocol.PeerClose || ev.Code != 4000 || ev.Reason != "bye" {
		t.Fatalf("server saw %+v", ev)
	}
}

func TestRealClientBinaryFails(t *testing.T) {
	c, events := dial(t, 1000)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageBinary, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.Read(ctx)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusUnsupportedData {
		t.Fatalf("client read %v, want close 1003", err)
	}
	if ev := <-events; ev.Kind != protocol.Violation || ev.Code != protocol.StatusUnsupportedData {
		t.Fatalf("server saw %+v", ev)
	}
}
