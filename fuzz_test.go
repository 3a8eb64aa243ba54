package dorrit_test

import (
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
