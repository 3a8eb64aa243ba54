package dorrit

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// parseHeader reads every length form, at its edges, and asks for more
// bytes until the whole header is there.
func TestParseHeader(t *testing.T) {
	cases := []struct {
		name   string
		b      []byte
		want   header
		wantOK bool
	}{
		{"empty", nil, header{}, false},
		{"one byte", []byte{0x81}, header{}, false},
		{"unmasked 0", []byte{0x81, 0x00}, header{fin: true, opcode: opText, size: 2}, true},
		{"125 in 7 bits", []byte{0x81, 0xfd, 1, 2, 3, 4}, header{fin: true, opcode: opText, masked: true, length: 125, key: 0x04030201, size: 6}, true},
		{"126 needs 2 more", []byte{0x01, 0xfe, 0x00}, header{}, false},
		{"126 form", []byte{0x01, 0xfe, 0x00, 0x7e, 9, 9, 9, 9}, header{opcode: opText, masked: true, length: 126, key: 0x09090909, size: 8}, true},
		{"65535 in 16 bits", []byte{0x80, 0xfe, 0xff, 0xff, 0, 0, 0, 0}, header{fin: true, masked: true, length: 65535, size: 8}, true},
		{"127 needs 8 more", []byte{0x81, 0xff, 0, 0, 0, 0, 0, 1}, header{}, false},
		{"127 form", []byte{0x81, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4}, header{fin: true, opcode: opText, masked: true, length: 65536, key: 0x04030201, size: 14}, true},
		{"mask cut", []byte{0x81, 0x85, 1, 2}, header{}, false},
		{"rsv and opcode", []byte{0x7a, 0x80, 0, 0, 0, 0}, header{rsv: 0x70, opcode: opPong, masked: true, size: 6}, true},
	}
	for _, tc := range cases {
		h, ok := parseHeader(tc.b)
		if ok != tc.wantOK || ok && h != tc.want {
			t.Errorf("%s: parseHeader = %+v, %v; want %+v, %v", tc.name, h, ok, tc.want, tc.wantOK)
		}
	}
}

// checkHeader refuses, before any payload is read, what RFC 6455 and the
// dorrit rules forbid, with the close code each calls for.
func TestCheckHeader(t *testing.T) {
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
		{"fragment 1024", with(text, func(h *header) { h.opcode = opContinuation }), true, 0, maxFragments - 1, 0},
		{"fragment 1025", with(text, func(h *header) { h.opcode = opContinuation }), true, 0, maxFragments, StatusMessageTooBig},
		{"ping inside a message", header{fin: true, opcode: opPing, masked: true, length: 125}, true, 10, 1, 0},
		{"ping over 125", header{fin: true, opcode: opPing, masked: true, length: 126}, false, 0, 0, StatusProtocolError},
		{"fragmented close", header{opcode: opClose, masked: true}, false, 0, 0, StatusProtocolError},
	}
	for _, tc := range cases {
		if got, _, why := checkHeader(tc.h, tc.inMessage, tc.soFar, tc.fragments, max); got != tc.want {
			t.Errorf("%s: code %d (%s), want %d", tc.name, got, why, tc.want)
		}
	}
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
		code, reason, ok := parseClosePayload(tc.p)
		if ok != tc.ok || ok && (code != tc.code || reason != tc.reason) {
			t.Errorf("parseClosePayload(%x) = %d %q %v, want %d %q %v", tc.p, code, reason, ok, tc.code, tc.reason, tc.ok)
		}
	}
	long := strings.Repeat("é", 100) // 200 bytes
	p := closePayload(nil, StatusGoingAway, long)
	if len(p) > maxControlPayload || !utf8.Valid(p[2:]) {
		t.Fatalf("closePayload: %d bytes, valid UTF-8 %v", len(p), utf8.Valid(p[2:]))
	}
	if code, _, ok := parseClosePayload(p); !ok || code != StatusGoingAway {
		t.Fatalf("closePayload does not parse back: %d %v", code, ok)
	}
}
