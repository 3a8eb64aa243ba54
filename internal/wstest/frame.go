package wstest

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
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

// Frame is one frame to send. The zero value is a masked, non-final
// continuation frame with a random key and no reserved bits.
type Frame struct {
	Fin            bool
	RSV            byte // RSV1..3 as a value 0..7 (4 = RSV1)
	Opcode         byte
	Payload        []byte
	Unmasked       bool     // send without a mask, which servers must refuse
	Key            *[4]byte // masking key; random when nil
	LengthOverride *uint64  // announce this payload length instead of len(Payload)
	Use64BitLength bool     // non-minimal 64-bit length encoding
}

// AppendFrame appends the wire form of f to b.
func AppendFrame(b []byte, f Frame) ([]byte, error) {
	if f.RSV > 7 || f.Opcode > 0xF {
		return b, errors.New("wstest: RSV or opcode out of range")
	}
	b0 := f.RSV<<4 | f.Opcode
	if f.Fin {
		b0 |= 0x80
	}
	length := uint64(len(f.Payload))
	if f.LengthOverride != nil {
		length = *f.LengthOverride
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
	case length >= 126:
		b = append(b, maskBit|126)
		b = binary.BigEndian.AppendUint16(b, uint16(length))
	default:
		b = append(b, maskBit|byte(length))
	}
	if f.Unmasked {
		return append(b, f.Payload...), nil
	}
	var key [4]byte
	if f.Key != nil {
		key = *f.Key
	} else {
		rand.Read(key[:])
	}
	b = append(b, key[:]...)
	start := len(b)
	b = append(b, f.Payload...)
	p := b[start:]
	k8 := uint64(binary.LittleEndian.Uint32(key[:]))
	k8 |= k8 << 32
	i := 0
	for ; i+8 <= len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], binary.LittleEndian.Uint64(p[i:])^k8)
	}
	for ; i < len(p); i++ {
		p[i] ^= key[i&3]
	}
	return b, nil
}

// WriteFrame sends f at once.
func (c *Conn) WriteFrame(f Frame) error {
	var err error
	if c.wbuf, err = AppendFrame(c.wbuf[:0], f); err != nil {
		return err
	}
	_, err = c.nc.Write(c.wbuf)
	return err
}

// WriteText sends msg as one masked final text frame.
func (c *Conn) WriteText(msg []byte) error {
	return c.WriteFrame(Frame{Fin: true, Opcode: OpText, Payload: msg})
}

// WriteRaw sends b as it is.
func (c *Conn) WriteRaw(b []byte) error {
	_, err := c.nc.Write(b)
	return err
}

// Ping sends a ping with payload.
func (c *Conn) Ping(payload []byte) error {
	return c.WriteFrame(Frame{Fin: true, Opcode: OpPing, Payload: payload})
}

// WriteClose sends a close frame with code and reason.
func (c *Conn) WriteClose(code int, reason string) error {
	p := binary.BigEndian.AppendUint16(nil, uint16(code))
	return c.WriteFrame(Frame{Fin: true, Opcode: OpClose, Payload: append(p, reason...)})
}

// ReadFrame is one frame received from the server.
type ReadFrame struct {
	Fin     bool
	RSV     byte
	Opcode  byte
	Masked  bool
	Payload []byte // a fresh copy: it stays valid
}

// ReadFrame reads the next frame. A masked server frame is an error.
func (c *Conn) ReadFrame() (ReadFrame, error) {
	var f ReadFrame
	var hdr [8]byte
	if _, err := io.ReadFull(c.br, hdr[:2]); err != nil {
		return f, err
	}
	f.Fin = hdr[0]&0x80 != 0
	f.RSV = hdr[0] >> 4 & 7
	f.Opcode = hdr[0] & 0xF
	f.Masked = hdr[1]&0x80 != 0
	n := uint64(hdr[1] & 0x7f)
	switch n {
	case 126:
		if _, err := io.ReadFull(c.br, hdr[:2]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(hdr[:]))
	case 127:
		if _, err := io.ReadFull(c.br, hdr[:8]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(hdr[:])
	}
	if f.Masked {
		return f, errors.New("wstest: the server sent a masked frame")
	}
	if n > 1<<30 {
		return f, fmt.Errorf("wstest: frame of %d bytes", n)
	}
	f.Payload = make([]byte, n)
	_, err := io.ReadFull(c.br, f.Payload)
	return f, err
}

// CloseFrameError is a close frame received where a message was expected.
type CloseFrameError struct {
	Code   int // 1005 when the frame had no code
	Reason string
}

func (e *CloseFrameError) Error() string {
	return fmt.Sprintf("wstest: close frame %d %q", e.Code, e.Reason)
}

func closeFrameError(p []byte) *CloseFrameError {
	if len(p) < 2 {
		return &CloseFrameError{Code: 1005}
	}
	return &CloseFrameError{Code: int(binary.BigEndian.Uint16(p)), Reason: string(p[2:])}
}

// ReadFragments returns the frames of the next data message, answering
// pings and recording pongs on the way. A close frame is a *CloseFrameError.
func (c *Conn) ReadFragments() ([]ReadFrame, error) {
	var frames []ReadFrame
	for {
		f, err := c.ReadFrame()
		if err != nil {
			return frames, err
		}
		switch f.Opcode {
		case OpPing:
			if err := c.WriteFrame(Frame{Fin: true, Opcode: OpPong, Payload: f.Payload}); err != nil {
				return frames, err
			}
			continue
		case OpPong:
			c.pongs = append(c.pongs, f.Payload)
			continue
		case OpClose:
			return frames, closeFrameError(f.Payload)
		}
		if (len(frames) == 0) != (f.Opcode != OpContinuation) {
			return frames, fmt.Errorf("wstest: opcode %d at fragment %d", f.Opcode, len(frames))
		}
		frames = append(frames, f)
		if f.Fin {
			return frames, nil
		}
	}
}

// ReadMessage returns the next data message, reassembled.
func (c *Conn) ReadMessage() (opcode byte, payload []byte, err error) {
	frames, err := c.ReadFragments()
	if err != nil {
		return 0, nil, err
	}
	for _, f := range frames {
		payload = append(payload, f.Payload...)
	}
	return frames[0].Opcode, payload, nil
}

// ExpectClose reads until a close frame arrives, skipping data, then waits
// for the server to close the socket. code is -1 when the socket closed
// without a close frame; eof tells whether the socket closed within timeout.
func (c *Conn) ExpectClose(timeout time.Duration) (code int, reason string, eof bool, err error) {
	c.nc.SetReadDeadline(time.Now().Add(timeout))
	defer c.nc.SetReadDeadline(time.Time{})
	code = -1
	for {
		f, err := c.ReadFrame()
		if err != nil {
			if isTimeout(err) {
				return code, reason, false, err
			}
			return code, reason, true, nil // EOF or reset: the socket is closed
		}
		if f.Opcode == OpClose && code == -1 {
			ce := closeFrameError(f.Payload)
			code, reason = ce.Code, ce.Reason
		}
	}
}

func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}
