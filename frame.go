package dorrit

import (
	"encoding/binary"
	"strings"
	"unicode/utf8"
)

// Opcodes (RFC 6455 §5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

const (
	maxControlPayload = 125
	maxHeaderLen      = 14 // 2 + 8 bytes of length + 4 bytes of mask
	maxServerHeader   = 10 // server frames are never masked
)

// header is a parsed frame header.
type header struct {
	fin    bool
	rsv    byte // RSV1..3 as bits 0x40, 0x20, 0x10
	opcode byte
	masked bool
	length uint64 // payload length as announced
	key    uint32 // masking key, little-endian as it appears on the wire
	size   int    // header length in bytes
}

// parseHeader reads a header from the start of b. ok is false when b does not
// hold the whole header yet.
func parseHeader(b []byte) (h header, ok bool) {
	if len(b) < 2 {
		return h, false
	}
	h.fin = b[0]&0x80 != 0
	h.rsv = b[0] & 0x70
	h.opcode = b[0] & 0x0f
	h.masked = b[1]&0x80 != 0
	n := 2
	switch l := b[1] & 0x7f; l {
	case 126:
		if len(b) < 4 {
			return h, false
		}
		h.length = uint64(binary.BigEndian.Uint16(b[2:]))
		n = 4
	case 127:
		if len(b) < 10 {
			return h, false
		}
		h.length = binary.BigEndian.Uint64(b[2:])
		n = 10
	default:
		h.length = uint64(l)
	}
	if h.masked {
		if len(b) < n+4 {
			return h, false
		}
		h.key = binary.LittleEndian.Uint32(b[n:])
		n += 4
	}
	h.size = n
	return h, true
}

func isControl(op byte) bool { return op&0x8 != 0 }

// maxFragments bounds the frames of one incoming message. Fragments with a
// payload are bounded by the size rule, but empty ones cost the client
// nothing (a million were accepted); 1,024 lets a full-size message arrive
// in 64-byte pieces.
const maxFragments = 1024

// checkHeader applies RFC 6455 and the dorrit rules to a client frame header
// before any of its payload is read. inMessage says whether a fragmented
// message is being reassembled, soFar how many payload bytes and fragments
// it already has.
func checkHeader(h header, inMessage bool, soFar, fragments, maxPayload int) (StatusCode, dropReason, string) {
	switch {
	case h.rsv != 0:
		return StatusProtocolError, dropProtocol, "reserved bits set without a negotiated extension"
	case !h.masked:
		return StatusProtocolError, dropProtocol, "client frame not masked"
	}
	switch h.opcode {
	case opText:
		if inMessage {
			return StatusProtocolError, dropProtocol, "new text message inside a fragmented message"
		}
	case opContinuation:
		if !inMessage {
			return StatusProtocolError, dropProtocol, "continuation frame without a message to continue"
		}
		if fragments >= maxFragments {
			return StatusMessageTooBig, dropTooBig, "message in more than 1024 fragments"
		}
	case opBinary:
		return StatusUnsupportedData, dropBinary, "binary messages are not accepted"
	case opClose, opPing, opPong:
		if !h.fin {
			return StatusProtocolError, dropProtocol, "fragmented control frame"
		}
		if h.length > maxControlPayload {
			return StatusProtocolError, dropProtocol, "control frame payload over 125 bytes"
		}
		return 0, dropNone, ""
	default:
		return StatusProtocolError, dropProtocol, "unknown opcode"
	}
	if h.length > uint64(maxPayload-soFar) { // soFar is 0 for an unfragmented message
		return StatusMessageTooBig, dropTooBig, "frame or message larger than the buffer size allows"
	}
	return 0, dropNone, ""
}

// putHeader writes an unmasked server frame header for a payload of n bytes
// into b (at least maxServerHeader bytes) and returns its length.
func putHeader(b []byte, fin bool, opcode byte, n int) int {
	b[0] = opcode
	if fin {
		b[0] |= 0x80
	}
	switch {
	case n < 126:
		b[1] = byte(n)
		return 2
	case n <= 0xffff:
		b[1] = 126
		binary.BigEndian.PutUint16(b[2:], uint16(n))
		return 4
	default:
		b[1] = 127
		binary.BigEndian.PutUint64(b[2:], uint64(n))
		return 10
	}
}

// parseClosePayload checks a client's close frame payload (RFC 6455 §5.5.1, §7.4).
func parseClosePayload(p []byte) (code StatusCode, reason string, ok bool) {
	switch {
	case len(p) == 0:
		return StatusNoStatusRcvd, "", true
	case len(p) == 1:
		return 0, "", false
	}
	code = StatusCode(binary.BigEndian.Uint16(p))
	if !validWireCode(code) || !utf8.Valid(p[2:]) {
		return code, "", false
	}
	return code, string(p[2:]), true
}

// validWireCode reports whether code may appear in a close frame.
func validWireCode(code StatusCode) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// closePayload builds a close frame payload; the reason is cut to fit 125 bytes
// on a character boundary.
func closePayload(dst []byte, code StatusCode, reason string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(code))
	reason = strings.ToValidUTF8(reason, "\uFFFD") // a browser fails the connection on invalid UTF-8
	if len(reason) > maxControlPayload-2 {
		reason = reason[:maxControlPayload-2]
		for len(reason) > 0 && !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	return append(dst, reason...)
}
