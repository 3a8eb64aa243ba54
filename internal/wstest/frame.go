package wstest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"unicode/utf8"
)

// Opcodes (RFC 6455 §5.2).
const (
	OpContinuation = 0x0
	OpText         = 0x1
	OpBinary       = 0x2
	OpClose        = 0x8
	OpPing         = 0x9
	OpPong         = 0xA
)

// maxHeaderSize is the longest frame header: 2 bytes, a 64-bit length and
// a masking key.
const maxHeaderSize = 14

// Frame is one frame to send, encoded exactly as described, valid or not.
// The zero value is a masked, non-final continuation frame with an empty
// payload, a random masking key and no reserved bits.
type Frame struct {
	Fin     bool
	RSV     byte // RSV1..3 as a value 0..7: 4 is RSV1, 2 is RSV2, 1 is RSV3
	Opcode  byte // 0..15; values without a meaning are sent as they are
	Payload []byte
	// Unmasked sends the frame without a mask (and ignores Key), which a
	// server must refuse.
	Unmasked bool
	// Key is the masking key; a fresh pseudo-random one per frame when nil.
	Key *[4]byte
	// LengthOverride announces this payload length instead of len(Payload);
	// Payload is still sent whole. Announcing 1 MiB with an empty Payload
	// sends a header and nothing else. The length form is chosen for the
	// announced length.
	LengthOverride *uint64
	// Use64BitLength encodes the length in the 8-byte form even when it is
	// short, which RFC 6455 §5.2 forbids.
	Use64BitLength bool
	// Use16BitLength encodes a length under 126 in the 2-byte form, which
	// RFC 6455 §5.2 forbids. Use64BitLength wins over it.
	Use16BitLength bool
}

// checkFrame rejects what cannot be encoded at all.
func checkFrame(f *Frame) error {
	if f.RSV > 7 {
		return fmt.Errorf("wstest: RSV %d does not fit in 3 bits", f.RSV)
	}
	if f.Opcode > 0xF {
		return fmt.Errorf("wstest: opcode %d does not fit in 4 bits", f.Opcode)
	}
	return nil
}

// frameKey is the masking key of f.
func frameKey(f *Frame) [4]byte {
	if f.Key != nil {
		return *f.Key
	}
	var k [4]byte
	binary.LittleEndian.PutUint32(k[:], rand.Uint32())
	return k
}

// appendHeader appends the header of f, masked with key unless f is
// Unmasked. f must have passed checkFrame.
func appendHeader(b []byte, f *Frame, key [4]byte) []byte {
	length := uint64(len(f.Payload))
	if f.LengthOverride != nil {
		length = *f.LengthOverride
	}
	b0 := f.RSV<<4 | f.Opcode
	if f.Fin {
		b0 |= 0x80
	}
	var maskBit byte = 0x80
	if f.Unmasked {
		maskBit = 0
	}
	b = append(b, b0)
	switch {
	case f.Use64BitLength || length > 0xffff:
		b = append(b, maskBit|127)
		b = binary.BigEndian.AppendUint64(b, length)
	case f.Use16BitLength || length >= 126:
		b = append(b, maskBit|126)
		b = binary.BigEndian.AppendUint16(b, uint16(length))
	default:
		b = append(b, maskBit|byte(length))
	}
	if !f.Unmasked {
		b = append(b, key[:]...)
	}
	return b
}

// AppendFrame appends the wire form of f to b, as WriteFrame would send it.
// It fails only when RSV or Opcode do not fit in their bits.
func AppendFrame(b []byte, f Frame) ([]byte, error) {
	if err := checkFrame(&f); err != nil {
		return b, err
	}
	key := frameKey(&f)
	b = appendHeader(b, &f, key)
	start := len(b)
	b = append(b, f.Payload...)
	if !f.Unmasked {
		mask(b[start:], b[start:], key, 0)
	}
	return b, nil
}

// mask XORs src with key into dst as if src began at byte pos of the
// payload. dst must be at least as long as src; it may be src itself.
// It works 8 bytes at a time.
func mask(dst, src []byte, key [4]byte, pos int) {
	var k [4]byte
	for i := range k {
		k[i] = key[(pos+i)&3]
	}
	k4 := binary.LittleEndian.Uint32(k[:])
	k8 := uint64(k4) | uint64(k4)<<32
	dst = dst[:len(src)]
	i := 0
	for ; len(src)-i >= 32; i += 32 {
		d, s := dst[i:i+32:i+32], src[i:i+32:i+32]
		binary.LittleEndian.PutUint64(d[0:], binary.LittleEndian.Uint64(s[0:])^k8)
		binary.LittleEndian.PutUint64(d[8:], binary.LittleEndian.Uint64(s[8:])^k8)
		binary.LittleEndian.PutUint64(d[16:], binary.LittleEndian.Uint64(s[16:])^k8)
		binary.LittleEndian.PutUint64(d[24:], binary.LittleEndian.Uint64(s[24:])^k8)
	}
	for ; len(src)-i >= 8; i += 8 {
		binary.LittleEndian.PutUint64(dst[i:], binary.LittleEndian.Uint64(src[i:])^k8)
	}
	for ; i < len(src); i++ {
		dst[i] = src[i] ^ k[i&3]
	}
}

// WriteFrame sends f and flushes, together with anything buffered by
// WriteFrameNoFlush before. f.Payload is not modified and may be reused as
// soon as WriteFrame returns.
func (c *Conn) WriteFrame(f Frame) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.writeFrame(&f); err != nil {
		return err
	}
	return c.bw.Flush()
}

// WriteFrameNoFlush encodes f into the write buffer (64 KiB) and sends only
// what does not fit; Flush sends the rest. It is for pipelining many frames
// per system call in benchmarks, and it does not allocate. f.Payload is not
// modified and may be reused as soon as WriteFrameNoFlush returns.
//
// After any write error the Conn cannot write any more.
func (c *Conn) WriteFrameNoFlush(f Frame) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeFrame(&f)
}

// Flush sends whatever WriteFrameNoFlush left in the write buffer.
func (c *Conn) Flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.bw.Flush()
}

// writeFrame encodes f straight into the free part of the write buffer,
// masking the payload in pieces as large as the buffer has room for.
// c.wmu is held.
func (c *Conn) writeFrame(f *Frame) error {
	if err := checkFrame(f); err != nil {
		return err
	}
	if c.bw.Available() < maxHeaderSize {
		if err := c.bw.Flush(); err != nil {
			return err
		}
	}
	key := frameKey(f)
	if _, err := c.bw.Write(appendHeader(c.bw.AvailableBuffer(), f, key)); err != nil {
		return err
	}
	if f.Unmasked {
		_, err := c.bw.Write(f.Payload)
		return err
	}
	p := f.Payload
	for pos := 0; pos < len(p); {
		if c.bw.Available() == 0 {
			if err := c.bw.Flush(); err != nil {
				return err
			}
		}
		n := min(c.bw.Available(), len(p)-pos)
		buf := c.bw.AvailableBuffer()[:n]
		mask(buf, p[pos:pos+n], key, pos)
		if _, err := c.bw.Write(buf); err != nil {
			return err
		}
		pos += n
	}
	return nil
}

// WriteText sends msg as one masked final text frame and flushes.
func (c *Conn) WriteText(msg []byte) error {
	return c.WriteFrame(Frame{Fin: true, Opcode: OpText, Payload: msg})
}

// WriteBinary sends msg as one masked final binary frame and flushes.
func (c *Conn) WriteBinary(msg []byte) error {
	return c.WriteFrame(Frame{Fin: true, Opcode: OpBinary, Payload: msg})
}

// WriteRaw sends b as it is, after anything buffered before, and flushes.
func (c *Conn) WriteRaw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if _, err := c.bw.Write(b); err != nil {
		return err
	}
	return c.bw.Flush()
}

// Ping sends a masked final ping with payload and flushes. It does not wait
// for the pong: read it with ReadFrame, or find it in Pongs after
// ReadMessage.
func (c *Conn) Ping(payload []byte) error {
	return c.WriteFrame(Frame{Fin: true, Opcode: OpPing, Payload: payload})
}

// WriteClose sends a masked final close frame with code and reason, and
// flushes. Any code in 0..65535 is sent as given (reserved ones too, to
// test a server); a negative code sends a close frame with no payload (and
// ignores reason). It does not wait for the server's answer.
func (c *Conn) WriteClose(code int, reason string) error {
	if code > 0xffff {
		return fmt.Errorf("wstest: close code %d does not fit in 16 bits", code)
	}
	var p []byte
	if code >= 0 {
		p = binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(reason)), uint16(code))
		p = append(p, reason...)
	}
	return c.WriteFrame(Frame{Fin: true, Opcode: OpClose, Payload: p})
}

// ReadFrame is one frame received from the server.
type ReadFrame struct {
	Fin     bool
	RSV     byte // RSV1..3 as a value 0..7, as in Frame
	Opcode  byte
	Masked  bool // always false unless the error is a *ProtocolError
	Payload []byte
}

// ProtocolError is a server frame, or a sequence of frames, that breaks
// RFC 6455. The offending frame has been read whole, so reading can go on,
// except after a 64-bit length with its top bit set.
type ProtocolError struct {
	Reason string
}

func (e *ProtocolError) Error() string { return "wstest: the server broke RFC 6455: " + e.Reason }

func protocolErrorf(format string, args ...any) error {
	return &ProtocolError{Reason: fmt.Sprintf(format, args...)}
}

// header is a parsed frame header.
type header struct {
	fin    bool
	rsv    byte
	op     byte
	masked bool
	key    [4]byte
	length uint64
	extra  int // length bytes after the second byte: 0, 2 or 8
}

// peek returns the next n buffered bytes, reading more as needed.
func (c *Conn) peek(n int) ([]byte, error) {
	b, err := c.br.Peek(n)
	if err != nil {
		if err == io.EOF && len(b) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b, nil
}

func (c *Conn) readHeader() (header, error) {
	var h header
	b, err := c.peek(2)
	if err != nil {
		return h, err
	}
	need := 2
	switch b[1] & 0x7f {
	case 126:
		need += 2
	case 127:
		need += 8
	}
	if b[1]&0x80 != 0 {
		need += 4
	}
	if b, err = c.peek(need); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return h, err
	}
	h.fin = b[0]&0x80 != 0
	h.rsv = b[0] >> 4 & 7
	h.op = b[0] & 0xF
	h.masked = b[1]&0x80 != 0
	h.length = uint64(b[1] & 0x7f)
	switch h.length {
	case 126:
		h.length, h.extra = uint64(binary.BigEndian.Uint16(b[2:])), 2
	case 127:
		h.length, h.extra = binary.BigEndian.Uint64(b[2:]), 8
	}
	if h.masked {
		copy(h.key[:], b[2+h.extra:])
	}
	if h.length >= 1<<63 {
		return h, protocolErrorf("64-bit length %#x with the top bit set", h.length)
	}
	c.br.Discard(need)
	return h, nil
}

// violation describes how a frame whose payload has been read breaks
// RFC 6455 §5, or is nil.
func (h *header) violation() error {
	switch {
	case h.masked:
		return protocolErrorf("masked frame (opcode %d)", h.op)
	case h.extra == 2 && h.length < 126, h.extra == 8 && h.length <= 0xffff:
		return protocolErrorf("length %d in the %d-bit form", h.length, h.extra*8)
	case h.op >= 8 && h.length > 125:
		return protocolErrorf("control frame (opcode %d) of %d bytes", h.op, h.length)
	case h.op >= 8 && !h.fin:
		return protocolErrorf("fragmented control frame (opcode %d)", h.op)
	}
	return nil
}

// readPayload appends the payload of h to dst, unmasked. It grows dst as
// the bytes arrive, so a lying length costs no more memory than was sent.
func (c *Conn) readPayload(dst []byte, h *header) ([]byte, error) {
	if h.length > math.MaxInt {
		return dst, fmt.Errorf("wstest: frame of %d bytes", h.length)
	}
	start := len(dst)
	for n := int(h.length); n > 0; {
		chunk := min(n, 1<<20)
		dst = slices.Grow(dst, chunk)
		m, err := io.ReadFull(c.br, dst[len(dst):len(dst)+chunk])
		dst = dst[:len(dst)+m]
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return dst, err
		}
		n -= chunk
	}
	if h.masked {
		mask(dst[start:], dst[start:], h.key, 0)
	}
	return dst, nil
}

// ReadFrame reads the next frame, whatever it is: it answers no ping and
// records no pong. It honors the deadline set with SetDeadline.
//
// Payload points into a buffer of the Conn, valid only until the next call
// of any read method (ReadFrame, ReadMessage, AppendMessage, ReadFragments,
// ExpectClose); copy it to keep it. Reading a frame does not allocate once
// that buffer has grown to the largest payload.
//
// A frame that breaks RFC 6455 §5 (masked, non-minimal length, control
// frame over 125 bytes or without FIN) is still read whole and returned,
// unmasked if it was masked, with a *ProtocolError. Reserved bits and
// unknown opcodes are returned without error.
func (c *Conn) ReadFrame() (ReadFrame, error) {
	h, err := c.readHeader()
	f := ReadFrame{Fin: h.fin, RSV: h.rsv, Opcode: h.op, Masked: h.masked}
	if err != nil {
		return f, err
	}
	c.rbuf, err = c.readPayload(c.rbuf[:0], &h)
	f.Payload = c.rbuf
	if err != nil {
		return f, err
	}
	return f, h.violation()
}

// CloseFrameError is a close frame received where a data message was
// expected.
type CloseFrameError struct {
	Code   int // 1005 when the frame had no payload
	Reason string
}

func (e *CloseFrameError) Error() string {
	return fmt.Sprintf("wstest: close frame %d %q", e.Code, e.Reason)
}

// parseClose reads a close payload (RFC 6455 §5.5.1, §7.4).
func parseClose(p []byte) (*CloseFrameError, error) {
	if len(p) == 0 {
		return &CloseFrameError{Code: 1005}, nil
	}
	if len(p) == 1 {
		return nil, protocolErrorf("close frame with a 1-byte payload")
	}
	code := int(binary.BigEndian.Uint16(p))
	if code < 1000 || code == 1004 || code == 1005 || code == 1006 || code >= 1015 && code < 3000 || code >= 5000 {
		return nil, protocolErrorf("close code %d, which must not be sent", code)
	}
	if !utf8.Valid(p[2:]) {
		return nil, protocolErrorf("close reason %q is not UTF-8", p[2:])
	}
	return &CloseFrameError{Code: code, Reason: string(p[2:])}, nil
}

// nextDataFrame reads frames until a data frame, answering pings with
// pongs and recording pongs. A close frame is a *CloseFrameError and an
// unknown opcode a *ProtocolError. The payload is in c.rbuf.
func (c *Conn) nextDataFrame() (ReadFrame, error) {
	for {
		f, err := c.ReadFrame()
		if err != nil {
			return f, err
		}
		switch f.Opcode {
		case OpContinuation, OpText, OpBinary:
			return f, nil
		case OpPing:
			if err := c.WriteFrame(Frame{Fin: true, Opcode: OpPong, Payload: f.Payload}); err != nil {
				return f, err
			}
		case OpPong:
			c.recordPong(f.Payload)
		case OpClose:
			ce, err := parseClose(f.Payload)
			if err != nil {
				return f, err
			}
			return f, ce
		default:
			return f, protocolErrorf("unknown opcode %d", f.Opcode)
		}
	}
}

// checkSequence checks that a message starts with a text or binary frame
// and goes on with continuation frames.
func checkSequence(first bool, op byte) error {
	switch {
	case first && op == OpContinuation:
		return protocolErrorf("continuation frame without a message to continue")
	case !first && op != OpContinuation:
		return protocolErrorf("opcode %d inside a fragmented message", op)
	}
	return nil
}

// AppendMessage reads the next data message, appends its payload,
// reassembled from its fragments, to dst and returns the result and the
// opcode of its first frame. It does not allocate when dst has room.
//
// On the way it answers each ping at once with a pong carrying the same
// payload (which flushes the write buffer) and records pongs for Pongs.
// A close frame ends it with a *CloseFrameError; a frame that breaks
// RFC 6455, an unknown opcode or a bad fragment sequence with a
// *ProtocolError. On error msg holds dst and what was gathered so far.
func (c *Conn) AppendMessage(dst []byte) (opcode byte, msg []byte, err error) {
	for first := true; ; first = false {
		f, err := c.nextDataFrame()
		if err == nil {
			err = checkSequence(first, f.Opcode)
		}
		if err != nil {
			return opcode, dst, err
		}
		if first {
			opcode = f.Opcode
		}
		dst = append(dst, f.Payload...)
		if f.Fin {
			return opcode, dst, nil
		}
	}
}

// ReadMessage is AppendMessage into a new slice: payload belongs to the
// caller and stays valid (it is nil for an empty message). On error it
// returns 0 and nil.
func (c *Conn) ReadMessage() (opcode byte, payload []byte, err error) {
	opcode, payload, err = c.AppendMessage(nil)
	if err != nil {
		return 0, nil, err
	}
	return opcode, payload, nil
}

// ReadFragments returns the frames of the next data message, in order, to
// check how it was fragmented. Control frames are handled as by
// AppendMessage and not returned. The payloads are copies that belong to
// the caller. On error it returns the frames read so far.
func (c *Conn) ReadFragments() ([]ReadFrame, error) {
	var frames []ReadFrame
	for {
		f, err := c.nextDataFrame()
		if err == nil {
			err = checkSequence(len(frames) == 0, f.Opcode)
		}
		if err != nil {
			return frames, err
		}
		f.Payload = bytes.Clone(f.Payload)
		frames = append(frames, f)
		if f.Fin {
			return frames, nil
		}
	}
}
