package main

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/dorritgo/dorrit/internal/wstest"
)

// The load generator speaks just enough WebSocket to be the same client for
// every server: the upgrade written by hand, pre-masked text frames, and the
// server's unmasked frames parsed in place without allocation.

const (
	handshakeKey = "dGhlIHNhbXBsZSBub25jZQ=="
	upgradeReq   = "GET / HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + handshakeKey + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
)

var wantAccept = func() string {
	sum := sha1.Sum([]byte(handshakeKey + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(sum[:])
}()

// conn is one load-generator connection.
type conn struct {
	*net.UnixConn
	early []byte // bytes that arrived with the 101 answer
}

// dial connects to sock and, unless raw, upgrades the connection.
func dial(sock string, raw bool) (*conn, error) {
	nc, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		return nil, err
	}
	c := &conn{UnixConn: nc}
	if raw {
		return c, nil
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	defer nc.SetDeadline(time.Time{})
	if _, err := nc.Write([]byte(upgradeReq)); err != nil {
		nc.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(nc, 1024)
	resp, err := http.ReadResponse(br, nil)
	switch {
	case err != nil:
	case resp.StatusCode != http.StatusSwitchingProtocols:
		err = fmt.Errorf("handshake answered %s", resp.Status)
	case resp.Header.Get("Sec-WebSocket-Accept") != wantAccept:
		err = errors.New("handshake: wrong Sec-WebSocket-Accept")
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	if n := br.Buffered(); n > 0 {
		b, _ := br.Peek(n)
		c.early = append([]byte(nil), b...)
	}
	return c, nil
}

// dialAll opens n connections.
func dialAll(sock string, n int, raw bool) ([]*conn, error) {
	cs := make([]*conn, 0, n)
	for range n {
		c, err := dial(sock, raw)
		if err != nil {
			closeAll(cs)
			return nil, fmt.Errorf("connection %d of %d: %w", len(cs)+1, n, err)
		}
		cs = append(cs, c)
	}
	return cs, nil
}

func closeAll(cs []*conn) {
	for _, c := range cs {
		c.Close()
	}
}

// frame is what a client sends for payload: a masked text frame (the
// repository's test client builds it), or for the raw echo the payload
// itself.
func frame(payload []byte, raw bool) []byte {
	if raw {
		return payload
	}
	f, _ := wstest.AppendFrame(nil, wstest.Frame{Fin: true, Opcode: wstest.OpText, Payload: payload})
	return f
}

// replies counts the complete messages in the server's byte stream, fed in
// pieces as they arrive. It checks that every message is an unmasked text
// message (in one frame or fragments) of the expected size.
type replies struct {
	size int  // payload bytes of every message
	raw  bool // no framing: every size bytes are one message

	hdr  [10]byte
	nhdr int   // header bytes collected so far
	left int64 // payload bytes of the current frame still to come
	got  int64 // payload bytes of the current message so far
	fin  bool  // the current frame ends its message
}

// feed consumes b and returns how many messages it completed.
func (r *replies) feed(b []byte) (int, error) {
	if r.raw {
		r.got += int64(len(b))
		n := r.got / int64(r.size)
		r.got -= n * int64(r.size)
		return int(n), nil
	}
	done := 0
	for len(b) > 0 {
		if r.left > 0 { // in a payload
			k := min(int64(len(b)), r.left)
			r.left -= k
			r.got += k
			b = b[k:]
		} else { // in a header
			k := copy(r.hdr[r.nhdr:], b)
			have := r.nhdr + k
			need, err := r.headerLen(have)
			if err != nil {
				return done, err
			}
			if need == 0 || have < need {
				r.nhdr = have
				b = b[k:]
				continue
			}
			b = b[need-r.nhdr:]
			r.nhdr = 0
			r.startFrame(need)
		}
		if r.left == 0 && r.fin {
			if err := r.endMessage(); err != nil {
				return done, err
			}
			done++
		}
	}
	return done, nil
}

// headerLen returns the header's full length once the first have bytes of
// it are known, or 0 when more are needed to tell.
func (r *replies) headerLen(have int) (int, error) {
	if have < 2 {
		return 0, nil
	}
	b0, b1 := r.hdr[0], r.hdr[1]
	switch {
	case b0&0x70 != 0:
		return 0, errors.New("server frame with reserved bits")
	case b1&0x80 != 0:
		return 0, errors.New("masked server frame")
	case b0&0x0f != 0x1 && b0&0x0f != 0x0:
		return 0, fmt.Errorf("server frame with opcode %#x, want text", b0&0x0f)
	}
	switch b1 & 0x7f {
	case 126:
		return 4, nil
	case 127:
		return 10, nil
	}
	return 2, nil
}

func (r *replies) startFrame(n int) {
	r.fin = r.hdr[0]&0x80 != 0
	switch n {
	case 2:
		r.left = int64(r.hdr[1] & 0x7f)
	case 4:
		r.left = int64(binary.BigEndian.Uint16(r.hdr[2:]))
	default:
		r.left = int64(binary.BigEndian.Uint64(r.hdr[2:]))
	}
}

func (r *replies) endMessage() error {
	got := r.got
	r.got, r.fin = 0, false
	if got != int64(r.size) {
		return fmt.Errorf("server sent a %d-byte message, want %d", got, r.size)
	}
	return nil
}

// reader reads a connection's replies into its own buffer.
type reader struct {
	c   *conn
	buf []byte
	replies
}

func newReader(c *conn, size, bufSize int, raw bool) *reader {
	return &reader{c: c, buf: make([]byte, bufSize), replies: replies{size: size, raw: raw}}
}

// next blocks until at least one byte arrives and returns how many messages
// were completed by what arrived.
func (r *reader) next() (int, error) {
	if len(r.c.early) > 0 {
		b := r.c.early
		r.c.early = nil
		return r.feed(b)
	}
	n, err := r.c.Read(r.buf)
	if err != nil {
		return 0, err
	}
	return r.feed(r.buf[:n])
}
