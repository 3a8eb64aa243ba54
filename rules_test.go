package dorrit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/internal/wstest"
)

// dialRaw connects the raw-frame client, which can break the protocol on purpose.
func dialRaw(t testing.TB, ln *dorrit.Listener) *wstest.Conn {
	t.Helper()
	c, _, err := wstest.Dial(sockPath(ln), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// roundTrip sends msg and expects it echoed.
func roundTrip(t testing.TB, c *wstest.Conn, msg string) {
	t.Helper()
	if err := c.WriteText([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	op, got, err := c.ReadMessage()
	if err != nil || op != wstest.OpText || string(got) != msg {
		t.Fatalf("echo of %q: got op %d %q, %v", msg, op, got, err)
	}
}

// expectClose checks that the server sends a close frame with code and then
// closes the socket.
func expectClose(t testing.TB, c *wstest.Conn, code int) {
	t.Helper()
	got, reason, eof, err := c.ExpectClose(5 * time.Second)
	if err != nil {
		t.Fatalf("waiting for close %d: %v", code, err)
	}
	if got != code {
		t.Fatalf("close code %d (%q), want %d", got, reason, code)
	}
	if !eof {
		t.Fatalf("close %d sent but the socket stayed open", code)
	}
}

// Rule 1: pings are answered while the application waits in Read.
func TestRulePingAnsweredWhileReadWaits(t *testing.T) {
	ln := serve(t, dorrit.Options{}, echo)
	c := dialRaw(t, ln)
	roundTrip(t, c, "warm up")
	for i := range 3 {
		p := fmt.Appendf(nil, "ping %d", i)
		if err := c.Ping(p); err != nil {
			t.Fatal(err)
		}
		f, err := c.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if f.Opcode != wstest.OpPong || !bytes.Equal(f.Payload, p) {
			t.Fatalf("got opcode %d %q, want pong %q", f.Opcode, f.Payload, p)
		}
	}
}

// Rule 1: a ping that arrived while the application was busy is answered
// before Read returns the next message.
func TestRulePingAnsweredBeforeNextMessage(t *testing.T) {
	busy := make(chan struct{})
	ln := serve(t, dorrit.Options{}, func(c *dorrit.MessageConn) {
		defer c.Close()
		ctx := context.Background()
		if _, err := c.Read(ctx); err != nil {
			return
		}
		<-busy
		msg, err := c.Read(ctx)
		if err != nil {
			return
		}
		c.Write(append([]byte("after "), msg...))
	})
	c := dialRaw(t, ln)
	for _, step := range []func() error{
		func() error { return c.WriteText([]byte("first")) },
		func() error { return c.Ping([]byte("while busy")) },
		func() error { return c.WriteText([]byte("second")) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	close(busy)
	f, err := c.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	if f.Opcode != wstest.OpPong || string(f.Payload) != "while busy" {
		t.Fatalf("first frame: opcode %d %q, want the pong", f.Opcode, f.Payload)
	}
	f, err = c.ReadFrame()
	if err != nil || string(f.Payload) != "after second" {
		t.Fatalf("second frame: %q %v", f.Payload, err)
	}
}

// Rule 2: a binary message drops the connection with 1003.
func TestRuleBinaryDropped(t *testing.T) {
	ln := serve(t, dorrit.Options{}, echo)
	c := dialRaw(t, ln)
	roundTrip(t, c, "text is fine")
	if err := c.WriteFrame(wstest.Frame{Fin: true, Opcode: wstest.OpBinary, Payload: []byte{1, 2, 3}}); err != nil {
		t.Fatal(err)
	}
	expectClose(t, c, 1003)
	waitStats(t, ln, func(s dorrit.Stats) bool { return s.Dropped.Binary == 1 && s.Live == 0 })
}

// Rule 3: a frame announced over BufferSize-5 is refused with 1009 before
// any payload is read: the server must not wait for the bytes.
func TestRuleOversizeFrameRefusedBeforePayload(t *testing.T) {
	ln := serve(t, dorrit.Options{BufferSize: 100}, echo) // 95-byte payloads
	c := dialRaw(t, ln)
	roundTrip(t, c, strings.Repeat("a", 95))
	announced := uint64(96)
	if err := c.WriteFrame(wstest.Frame{Fin: true, Opcode: wstest.OpText, LengthOverride: &announced}); err != nil {
		t.Fatal(err)
	}
	expectClose(t, c, 1009)

	// The same for a 64-bit length far beyond anything.
	c = dialRaw(t, ln)
	huge := uint64(1) << 40
	if err := c.WriteFrame(wstest.Frame{Fin: true, Opcode: wstest.OpText, LengthOverride: &huge}); err != nil {
		t.Fatal(err)
	}
	expectClose(t, c, 1009)
	waitStats(t, ln, func(s dorrit.Stats) bool { return s.Dropped.TooBig == 2 })
}

// Rule 3: each fragment and the reassembled message must fit.
func TestRuleFragmentedMessageMustFit(t *testing.T) {
	ln := serve(t, dorrit.Options{BufferSize: 100}, echo)
	c := dialRaw(t, ln)
	sendFragments(t, c, strings.Repeat("a", 50), strings.Repeat("b", 45))
	op, got, err := c.ReadMessage()
	if err != nil || op != wstest.OpText || string(got) != strings.Repeat("a", 50)+strings.Repeat("b", 45) {
		t.Fatalf("95 bytes in two fragments: %q %v", got, err)
	}
	sendFragments(t, c, strings.Repeat("a", 50), strings.Repeat("b", 46))
	expectClose(t, c, 1009)
}

func sendFragments(t testing.TB, c *wstest.Conn, parts ...string) {
	t.Helper()
	for i, p := range parts {
		op := byte(wstest.OpContinuation)
		if i == 0 {
			op = wstest.OpText
		}
		if err := c.WriteFrame(wstest.Frame{Fin: i == len(parts)-1, Opcode: op, Payload: []byte(p)}); err != nil {
			t.Fatal(err)
		}
	}
}

// Rule 4: outgoing messages over BufferSize-5 leave as fragments.
func TestRuleLargeWritesFragmented(t *testing.T) {
	ln := serve(t, dorrit.Options{BufferSize: 100}, func(c *dorrit.MessageConn) {
		defer c.Close()
		if _, err := c.Read(context.Background()); err == nil {
			c.Write([]byte(strings.Repeat("x", 300)))
		}
	})
	c := dialRaw(t, ln)
	c.WriteText([]byte("go"))
	frames, err := c.ReadFragments()
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for i, f := range frames {
		sizes = append(sizes, len(f.Payload))
		wantOp := byte(wstest.OpContinuation)
		if i == 0 {
			wantOp = wstest.OpText
		}
		if f.Opcode != wantOp || f.Fin != (i == len(frames)-1) {
			t.Fatalf("frame %d: opcode %d fin %v", i, f.Opcode, f.Fin)
		}
	}
	if fmt.Sprint(sizes) != "[95 95 95 15]" {
		t.Fatalf("fragment sizes %v, want [95 95 95 15]", sizes)
	}
}

// Rule 4: a pong is not held back behind the rest of a long fragmented
// message, and another connection is served while one is stuck on a huge one.
func TestRuleFragmentsInterleave(t *testing.T) {
	const fragments = 150
	ln := serve(t, dorrit.Options{}, func(c *dorrit.MessageConn) {
		defer c.Close()
		for {
			msg, err := c.Read(context.Background())
			if err != nil {
				return
			}
			if string(msg) == "big" {
				msg = bytes.Repeat([]byte("z"), fragments*65535)
			}
			if err := c.Write(msg); err != nil {
				return
			}
		}
	})
	slow := dialRaw(t, ln)
	if err := slow.WriteText([]byte("big")); err != nil {
		t.Fatal(err)
	}
	// The socket buffer fills long before 150 fragments of 64 KiB have left.
	fast := dialRaw(t, ln)
	roundTrip(t, fast, "not blocked by the other client")

	if err := slow.Ping([]byte("between fragments")); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for {
		f, err := slow.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if f.Opcode == wstest.OpPong {
			break
		}
		if seen++; f.Fin {
			t.Fatalf("the pong came only after all %d fragments", seen)
		}
	}
	if seen >= fragments {
		t.Fatalf("pong after %d fragments", seen)
	}
}

// waitStats polls the listener's figures until ok holds; the rules finish
// asynchronously (the server ends a connection after sending its close).
func waitStats(t testing.TB, ln *dorrit.Listener, ok func(dorrit.Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok(ln.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("stats never reached the expected state: %+v", ln.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// errIs reports a mismatch of err with want.
func errIs(t testing.TB, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got %v, want %v", what, err, want)
	}
}

// Rule 4 on the direct path: a message of a few fragments written while the
// queue is empty leaves from the caller's slice, fragmented the same way.
func TestRuleLargeWritesFragmentedDirect(t *testing.T) {
	msg := make([]byte, 1500)
	for i := range msg {
		msg[i] = 'a' + byte(i%26)
	}
	ln := serve(t, dorrit.Options{BufferSize: 200}, func(c *dorrit.MessageConn) { // 195-byte fragments
		defer c.Close()
		if _, err := c.Read(context.Background()); err == nil {
			c.Write(msg)
		}
	})
	c := dialRaw(t, ln)
	c.WriteText([]byte("go"))
	frames, err := c.ReadFragments()
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	var sizes []int
	for _, f := range frames {
		got = append(got, f.Payload...)
		sizes = append(sizes, len(f.Payload))
	}
	if fmt.Sprint(sizes) != "[195 195 195 195 195 195 195 135]" || !bytes.Equal(got, msg) {
		t.Fatalf("fragment sizes %v, content equal: %v", sizes, bytes.Equal(got, msg))
	}
}
