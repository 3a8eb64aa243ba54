package dorrit_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/internal/wstest"
)

// FuzzClientBytes sends arbitrary bytes after a valid handshake. Whatever
// they are, the server must neither panic nor hang: it answers and, at the
// latest when the client stops sending, ends the connection; and a
// well-behaved client beside it is still served.
func FuzzClientBytes(f *testing.F) {
	text := func(fs ...wstest.Frame) []byte {
		var b []byte
		for _, fr := range fs {
			b, _ = wstest.AppendFrame(b, fr)
		}
		return b
	}
	long := uint64(1 << 62)
	for _, seed := range [][]byte{
		text(wstest.Frame{Fin: true, Opcode: wstest.OpText, Payload: []byte("hello")}),
		text(wstest.Frame{Opcode: wstest.OpText, Payload: []byte("he")}, wstest.Frame{Fin: true, Opcode: wstest.OpPing}, wstest.Frame{Fin: true, Payload: []byte("llo")}),
		text(wstest.Frame{Fin: true, Opcode: wstest.OpText, LengthOverride: &long}),
		text(wstest.Frame{Fin: true, Opcode: wstest.OpClose, Payload: []byte{3, 232}}),
		text(wstest.Frame{Fin: true, Opcode: wstest.OpText, Payload: []byte("\xf0\x9f\x98")}),
		{0x81}, {}, {0xff, 0xff, 0xff, 0xff},
	} {
		f.Add(seed)
	}
	ln := serve(f, dorrit.Options{BufferSize: 200}, echo)
	good := dialRaw(f, ln)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, _, err := wstest.Dial(sockPath(ln), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		nc := c.NetConn()
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		go func() {
			nc.Write(b)
			nc.(*net.UnixConn).CloseWrite() // the server sees EOF after b
		}()
		// EOF or a reset (the server dropped a client whose bytes it had
		// not read) both end the connection; only a timeout is a hang.
		if _, err := io.Copy(io.Discard, nc); errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("server neither answered nor ended the connection: %v", err)
		}
		good.SetDeadline(time.Now().Add(10 * time.Second))
		roundTrip(t, good, "still here")
	})
}

// FuzzHandshake sends arbitrary bytes as the upgrade request. Whatever
// they are, the server answers with an HTTP status line or closes the
// connection within HandshakeTimeout, never panics, and a well-behaved
// client beside it is still served.
func FuzzHandshake(f *testing.F) {
	const key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	for _, seed := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + key + "\r\n",
		"GET /chat?room=1 HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\nOrigin: http://x\r\nSec-WebSocket-Protocol: a, b\r\n" + key + "\r\n\x81\x85\x00\x00\x00\x00hello",
		"GET http://evil/ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + key + "\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nOrigin: a\r\nOrigin: b\r\n" + key + "\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
		"GET / HTTP/1.0\r\n\r\n", "GET / HT", "\r\n\r\n", "\x16\x03\x01\x02\x00",
	} {
		f.Add([]byte(seed))
	}
	ln := serve(f, dorrit.Options{HandshakeTimeout: time.Second}, echo)
	good := dialRaw(f, ln)
	f.Fuzz(func(t *testing.T, b []byte) {
		nc, err := net.Dial("unix", sockPath(ln))
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		go func() {
			nc.Write(b)
			nc.(*net.UnixConn).CloseWrite()
		}()
		answer := make([]byte, 12)
		n, err := io.ReadFull(nc, answer)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			t.Fatalf("no answer and no end within 10 s (HandshakeTimeout is 1 s)")
		case n > 0 && !bytes.HasPrefix([]byte("HTTP/1.1 "), answer[:min(n, 9)]):
			t.Fatalf("answered %q, not an HTTP status line", answer[:n])
		}
		good.SetDeadline(time.Now().Add(10 * time.Second))
		roundTrip(t, good, "still here")
	})
}
