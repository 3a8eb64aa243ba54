package protocol

import "encoding/binary"

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

// appendFrame appends one unmasked server frame to b, which must have room
// for maxServerHeader+len(payload) more bytes.
func appendFrame(b []byte, fin bool, opcode byte, payload []byte) []byte {
	at := len(b)
	hl := putHeader(b[at:at+maxServerHeader], fin, opcode, len(payload))
	return append(b[:at+hl], payload...)
}

// framesOf is how many frames a message of n bytes takes: an empty one takes one.
func framesOf(n, maxPayload int) int {
	return max(1, (n+maxPayload-1)/maxPayload)
}
