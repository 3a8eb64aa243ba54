package protocol

// The frame level on its own, for an engine that parses and frames the
// bytes itself instead of driving a Conn (MessageConn's reader and writer
// do, until they run on a Conn). Each is the core's own code under an
// exported name, so that the rules it keeps live here once.

// The opcodes (RFC 6455 §5.2).
const (
	OpContinuation = opContinuation
	OpText         = opText
	OpBinary       = opBinary
	OpClose        = opClose
	OpPing         = opPing
	OpPong         = opPong
)

// The frame sizes: MaxControlPayload bounds a control frame's payload,
// MaxHeaderLen is a client frame's longest header, MaxServerHeader a server
// frame's (never masked).
const (
	MaxControlPayload = maxControlPayload
	MaxHeaderLen      = maxHeaderLen
	MaxServerHeader   = maxServerHeader
)

// Header is a parsed client frame header.
type Header struct {
	Fin    bool
	Rsv    byte // RSV1..3 as bits 0x40, 0x20, 0x10
	Opcode byte
	Masked bool
	Length uint64 // payload length as announced
	Key    uint32 // masking key, little-endian as it appears on the wire
	Size   int    // header length in bytes
}

func (h Header) header() header {
	return header{fin: h.Fin, rsv: h.Rsv, opcode: h.Opcode, masked: h.Masked, length: h.Length, key: h.Key, size: h.Size}
}

// ParseHeader reads a header from the start of b. ok is false when b does
// not hold the whole header yet.
func ParseHeader(b []byte) (h Header, ok bool) {
	p, ok := parseHeader(b)
	return Header{Fin: p.fin, Rsv: p.rsv, Opcode: p.opcode, Masked: p.masked, Length: p.length, Key: p.key, Size: p.size}, ok
}

// IsControl reports whether op is a control frame's opcode.
func IsControl(op byte) bool { return isControl(op) }

// CheckHeader applies RFC 6455 and the dorrit rules to a client frame header
// before any of its payload is read (see violation.go). inMessage says
// whether a fragmented message is being assembled, soFar how many payload
// bytes and fragments it already has. code is 0 when the frame may proceed;
// otherwise the connection fails with code, counted as drop, reason in its
// close frame.
func CheckHeader(h Header, inMessage bool, soFar, fragments, maxPayload int) (code StatusCode, drop Drop, reason string) {
	if v := checkFrame(h.header(), inMessage, soFar, fragments, maxPayload); v != nil {
		return v.code, v.drop, v.reason
	}
	return 0, DropNone, ""
}

// PutHeader writes an unmasked server frame header for a payload of n bytes
// into b (at least MaxServerHeader bytes) and returns its length.
func PutHeader(b []byte, fin bool, opcode byte, n int) int { return putHeader(b, fin, opcode, n) }

// Mask XORs b in place with the masking key (RFC 6455 §5.3); pos is the
// offset of b[0] within the payload, so a payload can be unmasked in pieces
// as it arrives. It returns pos+len(b).
func Mask(key uint32, pos int, b []byte) int { return mask(key, pos, b) }

// UTF8State is the incremental UTF-8 check of one text message whose bytes
// arrive in pieces. The zero value is the start state.
type UTF8State struct{ s utf8State }

// Check validates p as the continuation of the bytes checked since the
// start; false at the first byte that cannot begin valid UTF-8, and from
// then on until Reset.
func (u *UTF8State) Check(p []byte) bool { return u.s.check(p) }

// Complete reports whether the bytes so far end on a character boundary.
func (u *UTF8State) Complete() bool { return u.s.complete() }

// Reset returns u to the start state.
func (u *UTF8State) Reset() { u.s.reset() }

// ParseClosePayload checks a client's close frame payload (RFC 6455 §5.5.1,
// §7.4). code is StatusNoStatusRcvd for an empty payload. When drop is not
// DropNone the frame is invalid: the connection fails with failCode.
func ParseClosePayload(p []byte) (code StatusCode, reason string, failCode StatusCode, drop Drop, failReason string) {
	code, reason, v := parseClosePayload(p)
	if v != nil {
		return code, "", v.code, v.drop, v.reason
	}
	return code, reason, 0, DropNone, ""
}

// AppendClosePayload appends a close frame payload to dst; the reason is cut
// to fit the frame at a character boundary, invalid UTF-8 replaced.
func AppendClosePayload(dst []byte, code StatusCode, reason string) []byte {
	return closePayload(dst, code, reason)
}
