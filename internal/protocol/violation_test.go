package protocol

import (
	"strings"
	"testing"
)

// Rule (1002): reserved bits, unmasked frames, unknown opcodes, a
// continuation without a message, a text frame inside one, fragmented or
// long control frames, an invalid close frame. Each fails the connection:
// the close frame with the code and reason leaves, nothing is parsed after.
func TestProtocolViolations(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in     []byte
		reason string
	}{
		{"reserved bit 1", clientFrame(opText, true, 0x40, true, []byte("hi")), "reserved bits set without a negotiated extension"},
		{"reserved bit 3", clientFrame(opText, true, 0x10, true, []byte("hi")), "reserved bits set without a negotiated extension"},
		{"unmasked", clientFrame(opText, true, 0, false, []byte("hi")), "client frame not masked"},
		{"opcode 3", cf(0x3, true, ""), "unknown opcode"},
		{"opcode 0xB", cf(0xB, true, ""), "unknown opcode"},
		{"lone continuation", cf(opContinuation, true, "x"), "continuation frame without a message to continue"},
		{"text inside a message", cat(cf(opText, false, "a"), cf(opText, true, "b")), "new text message inside a fragmented message"},
		{"fragmented ping", cf(opPing, false, ""), "fragmented control frame"},
		{"long ping", cf(opPing, true, strings.Repeat("p", 126)), "control frame payload over 125 bytes"},
		{"close of one byte", cf(opClose, true, "x"), "invalid close frame"},
		{"close code 1005", cclose(1005, ""), "invalid close frame"},
		{"close code 999", cclose(999, ""), "invalid close frame"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run(t, Config{}, []step{
				{in: cat(tc.in, text("after")), want: []string{"fail 1002"}, out: sclose(1002, tc.reason), state: "linger"},
				{in: text("ignored"), state: "linger"},
			})
		})
	}
}

// Rule (1003): a binary message drops the connection.
func TestBinaryMessage(t *testing.T) {
	run(t, Config{}, []step{
		{in: cf(opBinary, true, "\x00\x01"), want: []string{"fail 1003"}, out: sclose(1003, "binary messages are not accepted")},
	})
	c := run(t, Config{}, []step{
		{in: cf(opBinary, false, ""), want: []string{"fail 1003"}, out: sclose(1003, "binary messages are not accepted")},
	})
	if c.Counters().Dropped != DropBinary {
		t.Fatalf("counted as %d", c.Counters().Dropped)
	}
}

// Rule (1009): a frame or message over MaxPayload fails before a byte of
// its payload is taken — the header alone decides.
func TestSizeLimitBeforePayload(t *testing.T) {
	header := clientHeader // the payload never arrives
	tooBig := sclose(1009, "frame or message larger than the buffer size allows")
	run(t, Config{}, []step{{in: text(strings.Repeat("x", testMaxPayload)), want: []string{"message " + strings.Repeat("x", testMaxPayload)}}})
	run(t, Config{}, []step{{in: header(true, opText, testMaxPayload+1), want: []string{"fail 1009"}, out: tooBig}})
	run(t, Config{}, []step{{in: header(true, opText, 1<<40), want: []string{"fail 1009"}, out: tooBig}})
	run(t, Config{MaxPayload: 65535}, []step{{in: header(true, opText, 65536), want: []string{"fail 1009"}, out: tooBig}})
	// Each fragment fits, the message does not: refused at the header of
	// the fragment that would pass the bound.
	run(t, Config{}, []step{
		{in: cf(opText, false, strings.Repeat("a", 600))},
		{in: header(true, opContinuation, 401), want: []string{"fail 1009"}, out: tooBig},
	})
	c := run(t, Config{}, []step{
		{in: cf(opText, false, strings.Repeat("a", 600))},
		{in: cf(opContinuation, true, strings.Repeat("b", 400)), want: []string{"message " + strings.Repeat("a", 600) + strings.Repeat("b", 400)}},
	})
	if got := c.Counters(); got.Dropped != DropNone || got.MessagesIn != 1 || got.BytesIn != 1000 {
		t.Fatalf("counters %+v", got)
	}
}

// Rule: a message in more than MaxFragments frames fails with 1009, even
// when its fragments are empty.
func TestFragmentBound(t *testing.T) {
	var in []byte
	in = append(in, cf(opText, false, "")...)
	for range MaxFragments - 2 {
		in = append(in, cf(opContinuation, false, "")...)
	}
	run(t, Config{}, []step{
		{in: cat(in, cf(opContinuation, true, "")), want: []string{"message "}},
	})
	run(t, Config{}, []step{
		{in: cat(in, cf(opContinuation, false, ""), cf(opContinuation, true, "")), want: []string{"fail 1009"},
			out: sclose(1009, "message in more than 1024 fragments")},
	})
}

// A violation drops what was queued (counted undelivered), keeps the frame
// already on its way whole, and sends the close frame next.
func TestViolationDropsTheQueue(t *testing.T) {
	c := run(t, Config{}, []step{
		{do: write("one"), hold: true},
		{do: write("two"), hold: true},
		{do: func(c *Conn) error { c.Wrote(2); return nil }, hold: true}, // "one" is on its way
		{in: cf(0x3, true, ""), want: []string{"fail 1002"}, out: cat(stext("one")[2:], sclose(1002, "unknown opcode"))},
		{do: write("three"), err: ErrClosing},
	})
	if got := c.Counters(); got.Undelivered != 1 || got.Dropped != DropProtocol {
		t.Fatalf("counters %+v", got)
	}
}

// checkFrame refuses, before any payload is read, what RFC 6455 and the
// dorrit rules forbid, with the close code each calls for.
func TestCheckFrame(t *testing.T) {
	const max = 100
	text := header{fin: true, opcode: opText, masked: true}
	with := func(h header, f func(*header)) header { f(&h); return h }
	cases := []struct {
		name      string
		h         header
		inMessage bool
		soFar     int
		fragments int
		want      StatusCode
	}{
		{"text", text, false, 0, 0, 0},
		{"text at the limit", with(text, func(h *header) { h.length = max }), false, 0, 0, 0},
		{"text over the limit", with(text, func(h *header) { h.length = max + 1 }), false, 0, 0, StatusMessageTooBig},
		{"length with the top bit", with(text, func(h *header) { h.length = 1 << 63 }), false, 0, 0, StatusMessageTooBig},
		{"unmasked", with(text, func(h *header) { h.masked = false }), false, 0, 0, StatusProtocolError},
		{"reserved bit", with(text, func(h *header) { h.rsv = 0x40 }), false, 0, 0, StatusProtocolError},
		{"binary", with(text, func(h *header) { h.opcode = opBinary }), false, 0, 0, StatusUnsupportedData},
		{"unknown opcode", with(text, func(h *header) { h.opcode = 0x3 }), false, 0, 0, StatusProtocolError},
		{"text inside a message", text, true, 10, 1, StatusProtocolError},
		{"continuation alone", with(text, func(h *header) { h.opcode = opContinuation }), false, 0, 0, StatusProtocolError},
		{"continuation that fits", with(text, func(h *header) { h.opcode, h.length = opContinuation, 40 }), true, 60, 1, 0},
		{"continuation over the limit", with(text, func(h *header) { h.opcode, h.length = opContinuation, 41 }), true, 60, 1, StatusMessageTooBig},
		{"fragment 1024", with(text, func(h *header) { h.opcode = opContinuation }), true, 0, MaxFragments - 1, 0},
		{"fragment 1025", with(text, func(h *header) { h.opcode = opContinuation }), true, 0, MaxFragments, StatusMessageTooBig},
		{"ping inside a message", header{fin: true, opcode: opPing, masked: true, length: 125}, true, 10, 1, 0},
		{"ping over 125", header{fin: true, opcode: opPing, masked: true, length: 126}, false, 0, 0, StatusProtocolError},
		{"fragmented close", header{opcode: opClose, masked: true}, false, 0, 0, StatusProtocolError},
	}
	for _, tc := range cases {
		var got StatusCode
		var why string
		if v := checkFrame(tc.h, tc.inMessage, tc.soFar, tc.fragments, max); v != nil {
			got, why = v.code, v.reason
		}
		if got != tc.want {
			t.Errorf("%s: code %d (%s), want %d", tc.name, got, why, tc.want)
		}
	}
}
