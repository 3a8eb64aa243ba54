package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// client is one load-generator connection: it speaks just enough WebSocket
// to send pre-masked text frames and to skip the server's frames without
// allocating, so that every server meets the same client.
type client struct {
	nc  net.Conn
	r   *bufio.Reader
	w   *bufio.Writer
	raw bool // no framing: the raw echo
	hdr [10]byte
}

func dial(sock string, raw bool) (*client, error) {
	nc, err := net.DialTimeout("unix", sock, 10*time.Second)
	if err != nil {
		return nil, err
	}
	c := &client{nc: nc, r: bufio.NewReaderSize(nc, 64<<10), w: bufio.NewWriterSize(nc, 64<<10), raw: raw}
	if raw {
		return c, nil
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprint(nc, "GET / HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	status, err := c.r.ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.1 101") {
		nc.Close()
		return nil, fmt.Errorf("handshake: %q %v", status, err)
	}
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			nc.Close()
			return nil, err
		}
		if line == "\r\n" {
			break
		}
	}
	nc.SetDeadline(time.Time{})
	return c, nil
}

// message is what one client sends: a masked text frame, or for the raw
// echo the same number of bytes.
func message(payload []byte, raw bool) []byte {
	if raw {
		return payload
	}
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	f := []byte{0x81}
	switch n := len(payload); {
	case n < 126:
		f = append(f, 0x80|byte(n))
	case n <= 0xffff:
		f = append(f, 0x80|126)
		f = binary.BigEndian.AppendUint16(f, uint16(n))
	default:
		f = append(f, 0x80|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	f = append(f, key[:]...)
	for i, b := range payload {
		f = append(f, b^key[i&3])
	}
	return f
}

// readReply consumes one echoed message of size bytes.
func (c *client) readReply(size int) error {
	if c.raw {
		_, err := c.r.Discard(size)
		return err
	}
	if _, err := io.ReadFull(c.r, c.hdr[:2]); err != nil {
		return err
	}
	fin := c.hdr[0]&0x80 != 0
	n := int64(c.hdr[1] & 0x7f)
	switch n {
	case 126:
		if _, err := io.ReadFull(c.r, c.hdr[:2]); err != nil {
			return err
		}
		n = int64(binary.BigEndian.Uint16(c.hdr[:]))
	case 127:
		if _, err := io.ReadFull(c.r, c.hdr[:8]); err != nil {
			return err
		}
		n = int64(binary.BigEndian.Uint64(c.hdr[:]))
	}
	_, err := c.r.Discard(int(n))
	if err == nil && !fin { // a fragment: the rest follows
		return c.readReply(size)
	}
	return err
}

func dialAll(sock string, n int, raw bool) ([]*client, error) {
	cs := make([]*client, 0, n)
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

func closeAll(cs []*client) {
	for _, c := range cs {
		c.nc.Close()
	}
}
