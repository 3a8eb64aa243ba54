package protocol

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// Rule: the client's close is answered behind the queue with its code
// (no reason); once the answer has left the connection is Closed. Nothing
// the client sends after its close frame is parsed.
func TestClientCloses(t *testing.T) {
	run(t, Config{}, []step{
		{do: write("queued"), hold: true},
		{in: cat(cclose(4001, "bye"), text("after")), want: []string{"close 4001 bye"}, hold: true, state: "closing"},
		{do: write("late"), err: ErrClosing, out: cat(stext("queued"), sclose(4001, "")), state: "closed"},
	})
	// A close frame without a code is answered with an empty one.
	run(t, Config{}, []step{
		{in: cf(opClose, true, ""), want: []string{"close 1005 "}, out: sf(opClose, true, ""), state: "closed"},
	})
}

// Rule: the server's graceful close delivers the queue, then the close
// frame, and nothing after it; the client's answer completes the
// handshake. Messages after the server's close are discarded uncounted.
func TestServerCloses(t *testing.T) {
	c := run(t, Config{}, []step{
		{do: write("first"), hold: true},
		{do: func(c *Conn) error {
			if !c.Close(4000, "done") || c.Close(1000, "") {
				t.Fatal("Close reports wrongly whether it began the close")
			}
			return nil
		}, hold: true, state: "closing"},
		{do: write("after close"), err: ErrClosing, hold: true},
		{in: cf(opPing, true, ""), hold: true},
		{do: nil, out: cat(stext("first"), sclose(4000, "done")), state: "linger"},
		{in: text("discarded"), state: "linger"},
		{in: cclose(1000, ""), want: []string{"close 1000 "}, state: "closed"},
	})
	if got := c.Counters(); got.MessagesIn != 0 || got.MessagesOut != 1 || got.Undelivered != 0 {
		t.Fatalf("counters %+v", got)
	}
}

// Rule: the client's close that crosses the server's: the handshake ends
// when the server's close frame has left.
func TestClosesCross(t *testing.T) {
	run(t, Config{}, []step{
		{do: func(c *Conn) error { c.Close(1001, "going"); return nil }, hold: true},
		{in: cclose(1000, ""), want: []string{"close 1000 "}, hold: true, state: "closing"},
		{out: sclose(1001, "going"), state: "closed"},
	})
}

// Rule: in Linger, the client's end of stream ends the wait; so do
// LingerBytes of anything, or the engine's time (both counted).
func TestLinger(t *testing.T) {
	closed := func(c *Conn) error { c.Close(1000, ""); return nil }
	run(t, Config{}, []step{
		{do: closed, out: sclose(1000, ""), state: "linger"},
		{eof: true, state: "closed"},
	})
	c := run(t, Config{}, []step{
		{do: closed, out: sclose(1000, ""), state: "linger"},
		{do: func(c *Conn) error { c.LingerExpired(); return nil }, state: "closed"},
	})
	if c.Counters().LingerExpired != 1 {
		t.Fatal("linger expiry not counted")
	}
	c = run(t, Config{}, []step{
		{do: write("never read"), hold: true},
		{in: cf(opBinary, true, ""), want: []string{"fail 1003"}, hold: true, state: "closing"},
		{do: func(c *Conn) error { c.LingerExpired(); return nil }, state: "closed"},
	})
	if got := c.Counters(); got.LingerExpired != 1 || got.Undelivered != 1 {
		t.Fatalf("counters %+v", got)
	}
	c = run(t, Config{}, []step{
		{in: cf(opBinary, true, ""), want: []string{"fail 1003"}, out: sclose(1003, "binary messages are not accepted"), state: "linger"},
		{in: make([]byte, LingerBytes), state: "linger"},
		{in: []byte{0}, state: "closed"},
	})
	if c.Counters().LingerExpired != 1 {
		t.Fatal("linger bytes not counted")
	}
}

// Rule: Drop discards the queue (counted undelivered) but the frame on its
// way, sends its close frame next, and counts as the application's drop.
func TestDrop(t *testing.T) {
	c := run(t, Config{}, []step{
		{do: write("on its way"), hold: true},
		{do: write("dropped"), hold: true},
		{do: func(c *Conn) error { c.Wrote(3); return nil }, hold: true},
		{do: func(c *Conn) error {
			if !c.Drop(4002, strings.Repeat("r", 200)) || c.Drop(4003, "") {
				t.Fatal("Drop reports wrongly whether it began the close")
			}
			return nil
		}, out: cat(stext("on its way")[3:], sclose(4002, strings.Repeat("r", 123))), state: "linger"},
		{in: cclose(4002, ""), want: []string{"close 4002 "}, state: "closed"},
	})
	if got := c.Counters(); got.Undelivered != 1 || got.Dropped != DropApplication {
		t.Fatalf("counters %+v", got)
	}
}

// Rule: CloseNow ends at once: nothing more is written, the queue is
// counted undelivered.
func TestCloseNow(t *testing.T) {
	c := run(t, Config{}, []step{
		{do: write("a"), hold: true},
		{do: write("b"), hold: true},
		{do: func(c *Conn) error {
			if n := c.CloseNow(); n != 2 {
				t.Fatalf("CloseNow dropped %d", n)
			}
			return nil
		}, out: nil, state: "closed"},
		{in: text("ignored"), state: "closed"},
	})
	if got := c.Counters(); got.Undelivered != 2 {
		t.Fatalf("counters %+v", got)
	}
}

// A reason is cut at a character boundary, and invalid UTF-8 in it is
// replaced: a browser would fail the connection on it.
func TestCloseReason(t *testing.T) {
	long := strings.Repeat("\u20ac", 50) // 150 bytes
	run(t, Config{}, []step{{do: func(c *Conn) error { c.Close(1000, long); return nil }, out: sclose(1000, strings.Repeat("\u20ac", 41))}})
	run(t, Config{}, []step{{do: func(c *Conn) error { c.Close(1000, "a\xffb"); return nil }, out: sclose(1000, "a\ufffdb")}})
}

// parseClosePayload accepts the codes a client may send and a UTF-8
// reason; closePayload cuts a long reason on a character boundary.
func TestClosePayload(t *testing.T) {
	cases := []struct {
		p      []byte
		code   StatusCode
		reason string
		ok     bool
	}{
		{nil, StatusNoStatusRcvd, "", true},
		{[]byte{0x03}, 0, "", false},
		{[]byte{0x03, 0xe8}, 1000, "", true},
		{[]byte{0x03, 0xe8, 'b', 'y', 'e'}, 1000, "bye", true},
		{[]byte{0x03, 0xed}, 1005, "", false}, // reported only, never sent
		{[]byte{0x03, 0xee}, 1006, "", false},
		{[]byte{0x0b, 0xb8}, 3000, "", true},
		{[]byte{0x13, 0x87}, 4999, "", true},
		{[]byte{0x13, 0x88}, 5000, "", false},
		{[]byte{0x03, 0xe8, 0xff}, 1000, "", false},
	}
	for _, tc := range cases {
		code, reason, v := parseClosePayload(tc.p)
		ok := v == nil
		if ok != tc.ok || ok && (code != tc.code || reason != tc.reason) {
			t.Errorf("parseClosePayload(%x) = %d %q %v, want %d %q %v", tc.p, code, reason, ok, tc.code, tc.reason, tc.ok)
		}
	}
	long := strings.Repeat("é", 100) // 200 bytes
	p := closePayload(nil, StatusGoingAway, long)
	if len(p) > maxControlPayload || !utf8.Valid(p[2:]) {
		t.Fatalf("closePayload: %d bytes, valid UTF-8 %v", len(p), utf8.Valid(p[2:]))
	}
	if code, _, v := parseClosePayload(p); v != nil || code != StatusGoingAway {
		t.Fatalf("closePayload does not parse back: %d %v", code, v)
	}
}
