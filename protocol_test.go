package dorrit_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/internal/wstest"
)

// Rule 9: every RFC 6455 violation fails the connection with its close
// code, and a well-behaved client on the same listener keeps being served.
func TestRuleProtocolViolations(t *testing.T) {
	announced := uint64(1000)
	cases := []struct {
		name   string
		frames []wstest.Frame
		code   int
	}{
		{"invalid UTF-8", []wstest.Frame{{Fin: true, Opcode: wstest.OpText, Payload: []byte("ok \xff")}}, 1007},
		{"surrogate in UTF-8", []wstest.Frame{{Fin: true, Opcode: wstest.OpText, Payload: []byte("\xed\xa0\x80")}}, 1007},
		{"UTF-8 cut at the end", []wstest.Frame{{Fin: true, Opcode: wstest.OpText, Payload: []byte("\xe2\x82")}}, 1007},
		{"invalid UTF-8 across fragments", []wstest.Frame{
			{Opcode: wstest.OpText, Payload: []byte("\xe2\x82")},
			{Fin: true, Opcode: wstest.OpContinuation, Payload: []byte("\x28")},
		}, 1007},
		// Fail fast: the rest of the announced payload never comes.
		{"invalid UTF-8 before the payload is complete", []wstest.Frame{
			{Fin: true, Opcode: wstest.OpText, Payload: []byte("\xc0\xaf"), LengthOverride: &announced},
		}, 1007},
		{"unmasked frame", []wstest.Frame{{Fin: true, Opcode: wstest.OpText, Payload: []byte("hi"), Unmasked: true}}, 1002},
		{"reserved bit 1", []wstest.Frame{{Fin: true, RSV: 4, Opcode: wstest.OpText, Payload: []byte("hi")}}, 1002},
		{"reserved bit 3", []wstest.Frame{{Fin: true, RSV: 1, Opcode: wstest.OpText, Payload: []byte("hi")}}, 1002},
		{"unknown data opcode", []wstest.Frame{{Fin: true, Opcode: 3, Payload: []byte("hi")}}, 1002},
		{"unknown control opcode", []wstest.Frame{{Fin: true, Opcode: 0xB}}, 1002},
		{"ping over 125 bytes", []wstest.Frame{{Fin: true, Opcode: wstest.OpPing, Payload: make([]byte, 126)}}, 1002},
		{"fragmented ping", []wstest.Frame{{Opcode: wstest.OpPing, Payload: []byte("p")}}, 1002},
		{"continuation without a message", []wstest.Frame{{Fin: true, Opcode: wstest.OpContinuation, Payload: []byte("x")}}, 1002},
		{"text inside a fragmented message", []wstest.Frame{
			{Opcode: wstest.OpText, Payload: []byte("a")},
			{Fin: true, Opcode: wstest.OpText, Payload: []byte("b")},
		}, 1002},
		{"close with a 1-byte payload", []wstest.Frame{{Fin: true, Opcode: wstest.OpClose, Payload: []byte{3}}}, 1002},
		{"close with a reserved code", []wstest.Frame{{Fin: true, Opcode: wstest.OpClose, Payload: []byte{0x03, 0xed}}}, 1002}, // 1005
		{"close with code 999", []wstest.Frame{{Fin: true, Opcode: wstest.OpClose, Payload: []byte{0x03, 0xe7}}}, 1002},
		{"close reason not UTF-8", []wstest.Frame{{Fin: true, Opcode: wstest.OpClose, Payload: []byte{0x03, 0xe8, 0xff}}}, 1007},
	}
	ln := serve(t, dorrit.Options{}, echo)
	good := dialRaw(t, ln)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bad := dialRaw(t, ln)
			roundTrip(t, bad, "before")
			for _, f := range tc.frames {
				if err := bad.WriteFrame(f); err != nil {
					t.Fatal(err)
				}
			}
			expectClose(t, bad, tc.code)
			roundTrip(t, good, "still served after "+tc.name)
		})
	}
	waitStats(t, ln, func(s dorrit.Stats) bool { return s.Dropped.Protocol+s.Dropped.BadUTF8 == uint64(len(cases)) })
}

// A valid close from the client is echoed and the connection ends;
// Read reports the client's code.
func TestClientCloseEchoed(t *testing.T) {
	readErr := make(chan error, 1)
	ln := serve(t, dorrit.Options{}, func(c *dorrit.MessageConn) {
		for {
			if _, err := c.Read(ctxT(t)); err != nil {
				readErr <- err
				return
			}
		}
	})
	c := dialRaw(t, ln)
	if err := c.WriteClose(4000, "bye"); err != nil {
		t.Fatal(err)
	}
	expectClose(t, c, 4000)
	err := <-readErr
	if dorrit.CloseStatus(err) != 4000 {
		t.Fatalf("Read returned %v, want the client's 4000", err)
	}
	errIs(t, "Read after the client closed", err, dorrit.ErrClosed)
}

// Control frames may come between the fragments of a message.
func TestPingBetweenFragments(t *testing.T) {
	ln := serve(t, dorrit.Options{}, echo)
	c := dialRaw(t, ln)
	for _, f := range []wstest.Frame{
		{Opcode: wstest.OpText, Payload: []byte("hel")},
		{Fin: true, Opcode: wstest.OpPing, Payload: []byte("p")},
		{Fin: true, Opcode: wstest.OpContinuation, Payload: []byte("lo")},
	} {
		if err := c.WriteFrame(f); err != nil {
			t.Fatal(err)
		}
	}
	f, err := c.ReadFrame()
	if err != nil || f.Opcode != wstest.OpPong {
		t.Fatalf("want the pong first, got %d %v", f.Opcode, err)
	}
	_, got, err := c.ReadMessage()
	if err != nil || string(got) != "hello" {
		t.Fatalf("got %q %v", got, err)
	}
}

// A message may arrive in at most 1,024 fragments: empty continuation
// frames cost the client nothing and would otherwise keep a message open
// without end.
func TestFragmentCountBounded(t *testing.T) {
	ln := serve(t, dorrit.Options{}, echo)
	c := dialRaw(t, ln)
	send := func(n int, last string) {
		t.Helper()
		var b []byte
		for i := range n {
			op := byte(wstest.OpContinuation)
			if i == 0 {
				op = wstest.OpText
			}
			p := []byte{}
			if i == n-1 {
				p = []byte(last)
			}
			b, _ = wstest.AppendFrame(b, wstest.Frame{Fin: i == n-1, Opcode: op, Payload: p})
		}
		if err := c.WriteRaw(b); err != nil {
			t.Fatal(err)
		}
	}
	send(1024, "in 1024 fragments")
	if _, got, err := c.ReadMessage(); err != nil || string(got) != "in 1024 fragments" {
		t.Fatalf("1,024 fragments: %q %v", got, err)
	}
	send(1025, "in 1025 fragments")
	expectClose(t, c, 1009)
	if s := ln.Stats(); s.Dropped.TooBig != 1 {
		t.Fatalf("Stats.Dropped.TooBig = %d, want 1", s.Dropped.TooBig)
	}
}

// Data a client sends after its close frame is not delivered: the server
// answers the close and the application never sees the message.
func TestDataAfterCloseIgnored(t *testing.T) {
	got := make(chan string, 4)
	ln := serve(t, dorrit.Options{}, func(c *dorrit.MessageConn) {
		for {
			msg, err := c.Read(context.Background())
			if err != nil {
				close(got)
				return
			}
			got <- string(msg)
		}
	})
	c := dialRaw(t, ln)
	var b []byte
	b, _ = wstest.AppendFrame(b, wstest.Frame{Fin: true, Opcode: wstest.OpText, Payload: []byte("before")})
	b, _ = wstest.AppendFrame(b, wstest.Frame{Fin: true, Opcode: wstest.OpClose, Payload: []byte{0x03, 0xe8}})
	b, _ = wstest.AppendFrame(b, wstest.Frame{Fin: true, Opcode: wstest.OpText, Payload: []byte("after")})
	if err := c.WriteRaw(b); err != nil {
		t.Fatal(err)
	}
	expectClose(t, c, 1000)
	var seen []string
	for m := range got {
		seen = append(seen, m)
	}
	if len(seen) != 1 || seen[0] != "before" {
		t.Fatalf("the application read %q, want only \"before\"", seen)
	}
}

// A client that floods pings and reads nothing gets one pong per ping it
// is still waiting for at most: unanswered pings are answered by the
// newest pong only, so the flood cannot grow the server's queue, and other
// clients are served meanwhile.
func TestPingFloodBounded(t *testing.T) {
	ln := serve(t, dorrit.Options{}, echo)
	flood := dialRaw(t, ln)
	other := dialRaw(t, ln)
	const pings = 50000
	var b []byte
	for i := range pings {
		b, _ = wstest.AppendFrame(b, wstest.Frame{Fin: true, Opcode: wstest.OpPing, Payload: []byte(strconv.Itoa(i))})
	}
	sent := make(chan error, 1)
	go func() { sent <- flood.WriteRaw(b) }()
	roundTrip(t, other, "served during the flood")
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	pongs, last := 0, strconv.Itoa(pings-1)
	for {
		f, err := flood.ReadFrame()
		if err != nil {
			t.Fatalf("after %d pongs: %v", pongs, err)
		}
		if f.Opcode != wstest.OpPong {
			t.Fatalf("got opcode %d, want pongs only", f.Opcode)
		}
		pongs++
		if string(f.Payload) == last {
			break
		}
	}
	if pongs >= pings/2 {
		t.Fatalf("%d pongs for %d pings sent without reading: the server answered nearly each one", pongs, pings)
	}
	if s := ln.Stats(); s.QueuedBytes != 0 {
		t.Fatalf("Stats.QueuedBytes = %d after the flood", s.QueuedBytes)
	}
	roundTrip(t, flood, "still open")
}
