package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// A client is one soak connection, spoken in raw frames so that 10,000 of
// them stay light in one process (a wstest.Conn keeps 128 KiB of buffers,
// 1.25 GiB for 10,000; this one reads through 256 bytes): its writer sends
// numbered messages on a schedule, its reader checks that each one comes
// back, in order and intact, and answers the server's keepalive pings.
type client struct {
	nc   net.Conn
	name string // "c<slot>.<generation>", in every message it sends
	size int

	wmu       sync.Mutex
	closeSent bool

	sent    atomic.Int64    // messages written
	echoed  atomic.Int64    // of them, read back
	sentAt  [8]atomic.Int64 // when the last 8 messages left, by number, for the echo latency
	closing atomic.Bool     // the writer ended it: a close frame is expected
	gone    chan struct{}   // the reader ended
	err     error           // why the reader ended, nil after a clean close; read after gone
	echoes  chan struct{}   // told after each echo, for the closing writer
	stats   *totals
}

// totals are the counts of every client of the soak.
type totals struct {
	sent, echoed, pings, dials, closes atomic.Int64
	latency                            histogram
}

func newClient(nc net.Conn, name string, size int, stats *totals) *client {
	return &client{nc: nc, name: name, size: size, gone: make(chan struct{}), echoes: make(chan struct{}, 1), stats: stats}
}

// message is the payload of the seq-th message of c: its name and number,
// padded with letters to c.size bytes.
func (c *client) message(seq int64) []byte {
	b := fmt.Appendf(make([]byte, 0, c.size), "%s m%d ", c.name, seq)
	for i := 0; len(b) < c.size; i++ {
		b = append(b, 'a'+byte(i%26))
	}
	return b
}

// send writes the next message, masked as a client must.
func (c *client) send() error {
	seq := c.sent.Load()
	c.sentAt[seq%8].Store(time.Now().UnixNano())
	c.sent.Add(1)
	c.stats.sent.Add(1)
	return c.write(0x1, c.message(seq))
}

// write sends one masked frame of op (at most 125 bytes of payload), and
// nothing once a close frame went.
func (c *client) write(op byte, payload []byte) error {
	if len(payload) > 125 {
		return fmt.Errorf("%d bytes do not fit a short frame", len(payload))
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return nil
	}
	if op == 0x8 {
		c.closeSent = true
	}
	var key [4]byte
	binary.LittleEndian.PutUint32(key[:], rand.Uint32())
	f := append([]byte{0x80 | op, 0x80 | byte(len(payload)), key[0], key[1], key[2], key[3]}, payload...)
	for i := range payload {
		f[6+i] ^= key[i%4]
	}
	c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.nc.Write(f)
	return err
}

// read is the reader goroutine: it runs until the server's close frame and
// the end of the stream, and leaves its verdict in c.err.
func (c *client) read() {
	defer close(c.gone)
	c.err = c.readFrames(bufio.NewReaderSize(c.nc, 256))
}

func (c *client) readFrames(br *bufio.Reader) error {
	var hdr [8]byte
	payload := make([]byte, 0, 128)
	for {
		if _, err := io.ReadFull(br, hdr[:2]); err != nil {
			return fmt.Errorf("%s: the stream ended without a close frame: %w", c.name, err)
		}
		op, n := hdr[0]&0x0f, int64(hdr[1]&0x7f)
		if hdr[0]&0x80 == 0 || hdr[0]&0x70 != 0 || hdr[1]&0x80 != 0 {
			return fmt.Errorf("%s: a frame header %#x %#x this client never asked for (fragment, RSV or mask)", c.name, hdr[0], hdr[1])
		}
		switch n {
		case 126:
			if _, err := io.ReadFull(br, hdr[:2]); err != nil {
				return err
			}
			n = int64(binary.BigEndian.Uint16(hdr[:2]))
		case 127:
			if _, err := io.ReadFull(br, hdr[:8]); err != nil {
				return err
			}
			n = int64(binary.BigEndian.Uint64(hdr[:8]))
		}
		if n > 4<<10 {
			return fmt.Errorf("%s: a %d-byte frame; every message of the soak is %d bytes", c.name, n, c.size)
		}
		payload = payload[:n]
		if _, err := io.ReadFull(br, payload); err != nil {
			return err
		}
		switch op {
		case 0x1:
			if err := c.echo(payload); err != nil {
				return err
			}
		case 0x9:
			c.stats.pings.Add(1)
			if err := c.write(0xA, payload); err != nil {
				return fmt.Errorf("%s: answering a ping: %w", c.name, err)
			}
		case 0xA:
		case 0x8:
			return c.closed(br, payload)
		default:
			return fmt.Errorf("%s: opcode %#x from the server", c.name, op)
		}
	}
}

// echo checks that payload is the next message this client sent.
func (c *client) echo(payload []byte) error {
	seq := c.echoed.Load()
	if seq >= c.sent.Load() {
		return fmt.Errorf("%s: a message it did not send: %q", c.name, payload)
	}
	if want := c.message(seq); string(payload) != string(want) {
		return fmt.Errorf("%s: message %d came back as %q, want %q", c.name, seq, payload, want)
	}
	c.stats.latency.add(time.Duration(time.Now().UnixNano() - c.sentAt[seq%8].Load()))
	c.echoed.Add(1)
	c.stats.echoed.Add(1)
	select {
	case c.echoes <- struct{}{}:
	default:
	}
	return nil
}

// closed handles the server's close frame: the answer to ours (1000, then
// the end of the stream), or the server ending the connection on its own,
// which the soak counts as an unexpected close.
func (c *client) closed(br *bufio.Reader, payload []byte) error {
	code := 1005
	if len(payload) >= 2 {
		code = int(binary.BigEndian.Uint16(payload))
	}
	if !c.closing.Load() {
		return fmt.Errorf("%s: closed by the server with %d %q", c.name, code, payload[min(2, len(payload)):])
	}
	if code != 1000 {
		return fmt.Errorf("%s: our close 1000 answered with %d %q", c.name, code, payload[min(2, len(payload)):])
	}
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := br.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: after the close frame, %d more bytes and %v instead of the end of the stream", c.name, n, err)
	}
	return nil
}

// close ends the connection as a browser would: it waits up to wait for the
// echoes still on their way, sends close 1000 and waits for the server's
// close frame and the end of the stream. It returns how many messages never
// came back and the first thing that went wrong.
func (c *client) close(wait time.Duration) (lost int64, err error) {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
waiting:
	for c.echoed.Load() < c.sent.Load() {
		select {
		case <-c.echoes:
		case <-c.gone:
			break waiting
		case <-deadline.C:
			break waiting
		}
	}
	lost = c.sent.Load() - c.echoed.Load()
	c.closing.Store(true)
	if werr := c.write(0x8, []byte{0x03, 0xe8}); werr != nil && !isDone(c.gone) {
		err = fmt.Errorf("%s: sending close: %w", c.name, werr)
	}
	select {
	case <-c.gone:
	case <-time.After(10 * time.Second):
		c.nc.Close()
		<-c.gone
	}
	c.nc.Close()
	if err == nil {
		err = c.err
	}
	c.stats.closes.Add(1)
	return lost, err
}

func isDone[T any](ch <-chan T) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
