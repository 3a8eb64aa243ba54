package dorrit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/dorritgo/dorrit/internal/protocol"
	"golang.org/x/sys/unix"
)

// readChunk is the buffer a waiting connection borrows when bytes arrive:
// many small pipelined frames fit in one read.
const readChunk = 4 << 10

// Read waits for the next complete text message and returns its payload.
// The slice is valid until the next Read. Pings that arrive meanwhile are
// answered by dorrit; pongs are absorbed.
//
// If ctx ends first, Read returns ctx.Err() and the connection stays open:
// bytes of a half-received message are kept for the next Read. A ctx that
// has already ended still gets the messages already read from the socket;
// Read reports ctx.Err() only where it would have to wait, so such a Read
// drains a batch without a system call (libdorrit's callback thread does). Once the
// connection is over, Read returns a *CloseError (errors.Is(err, ErrClosed)):
// the client's close code, or the code dorrit failed the connection with
// (1002 protocol error, 1003 binary message, 1007 invalid UTF-8, 1009 too big).
//
// A handler must either Read or call CloseRead: pings are answered, the
// client's close is seen and a vanished client is noticed only while one
// of them reads. Read after CloseRead returns an error matching ErrClosed
// at once.
func (c *MessageConn) Read(ctx context.Context) ([]byte, error) { return c.read(ctx, false) }

var errReadAfterCloseRead = fmt.Errorf("%w: Read after CloseRead (CloseRead's goroutine reads this connection)", ErrClosed)

// read is Read, and the loop of CloseRead's goroutine (discarder).
func (c *MessageConn) read(ctx context.Context, discarder bool) ([]byte, error) {
	if !c.readMu.TryLock() {
		// Held by CloseRead's goroutine, or by a close that lingers (up
		// to lingerTime): a Read that may not read says so without
		// waiting.
		if err := c.refused(discarder); err != nil {
			return nil, err
		}
		c.readMu.Lock()
	}
	c.mu.Lock()
	c.given = false
	if !c.answered || c.discarding || c.readClosed {
		if err := c.readStart(discarder); err != nil {
			c.unlock()
			c.readMu.Unlock()
			return nil, err
		}
	}
	if c.readErr == nil && c.rbuf != nil && int(c.rr) < len(*c.rbuf) {
		// Pipelined messages: the next one is parsed under the same
		// hold of mu (one Lock fewer per message: the 128 B echo with one
		// connection went from 572 to 553 ns/op, medians of three).
		if msg, ok := c.receive(); ok {
			c.unlock()
			c.readMu.Unlock()
			return msg, nil
		}
	}
	c.unlock()
	msg, err := c.readMessage(ctx) // a message sets given
	c.readMu.Unlock()
	return msg, err
}

// refused is readRefused taking mu.
//
//go:noinline
func (c *MessageConn) refused(discarder bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readRefused(discarder)
}

// readStart lets the 101 go at the first Read, and says why a Read may not
// read. readMu and mu are held.
//
//go:noinline
func (c *MessageConn) readStart(discarder bool) error {
	if !c.answered {
		c.answered = true
		c.flush()
	}
	err := c.readRefused(discarder)
	if err != nil && err != errReadAfterCloseRead {
		c.releaseRead()
	}
	return err
}

// readRefused says why a Read may not read: CloseRead's goroutine does the
// reading, or reading is over. mu is held.
func (c *MessageConn) readRefused(discarder bool) error {
	switch {
	case c.discarding && !discarder:
		return errReadAfterCloseRead
	case c.readClosed:
		return c.closedErr()
	}
	return nil
}

// CloseRead is for handlers that only write (a feed, a ticker): it starts
// a goroutine that reads in their place and discards every data message,
// so that pings are still answered, the client's close handshake is
// completed and a vanished client is noticed. It returns a context, derived
// from ctx, that is cancelled when the connection ends (as Done is closed):
// a push loop selects on it to learn that its client is gone.
//
// Call it instead of Read, once; later calls return the same context, and
// Read returns an error. ctx only bounds the returned context: the
// discarding goes on until the connection ends, because a connection
// nobody reads would no longer keep the rules. The goroutine exists only
// for connections that call CloseRead; a connection that Reads pays nothing.
func (c *MessageConn) CloseRead(ctx context.Context) context.Context {
	c.mu.Lock()
	x := c.extra()
	if x.readCtx != nil {
		c.mu.Unlock()
		return x.readCtx
	}
	readCtx, cancel := context.WithCancel(ctx)
	x.readCtx = readCtx
	c.discarding = true
	c.mu.Unlock()
	go func() {
		defer cancel()
		for {
			if _, err := c.read(context.Background(), true); err != nil {
				break
			}
		}
		<-c.Done()
	}()
	return readCtx
}

// readMessage feeds the core until a message is complete. readMu is held.
func (c *MessageConn) readMessage(ctx context.Context) ([]byte, error) {
	for {
		if c.readErr != nil {
			c.releaseRead()
			return nil, c.readErr
		}
		if c.rbuf != nil && int(c.rr) < len(*c.rbuf) {
			c.mu.Lock()
			msg, ok := c.receive()
			c.unlock()
			if ok {
				return msg, nil
			}
			continue
		}
		if err := c.fill(ctx); err != nil {
			return nil, err
		}
	}
}

// receive gives the core the unread bytes until they complete a message,
// and acts on what they complete. readMu and mu are held.
func (c *MessageConn) receive() (msg []byte, ok bool) {
	for int(c.rr) < len(*c.rbuf) {
		open := c.core.State() == protocol.Open
		n, ev := c.core.Receive((*c.rbuf)[c.rr:])
		c.rr += int32(n)
		switch ev.Kind {
		case protocol.None:
			continue
		case protocol.Message:
			c.given = !c.discarding // CloseRead's goroutine holds nothing
			more := int(c.rr) < len(*c.rbuf)
			if more || c.corked {
				c.setCork(more)
			}
			c.flushUnlessCorked()
			return ev.Message, true
		}
		c.closeEvent(ev.Kind, ev.Code, ev.Reason, open)
		return nil, false
	}
	if c.corked {
		c.setCork(false) // about to wait: let the answers go
	}
	c.drive()
	return nil, false
}

// closeEvent acts on the client's close, a violation or a hangup: reading
// is over, with that reason. A violation that failed an open connection
// starts its linger (one during a close changes nothing but the count).
// readMu and mu are held.
//
//go:noinline
func (c *MessageConn) closeEvent(kind protocol.EventKind, code protocol.StatusCode, reason string, wasOpen bool) {
	c.readErr = &CloseError{Code: StatusCode(code), Reason: reason, Remote: kind != protocol.Violation}
	if kind == protocol.Violation && wasOpen {
		c.startLinger()
	}
	c.drive()
}

// releaseRead frees the read buffer once reading is over.
func (c *MessageConn) releaseRead() {
	putBuf(c.rbuf)
	c.rbuf, c.rr = nil, 0
}

// fill waits until the socket has bytes and reads them. The core keeps the
// frame in flight itself, so the buffer goes back once all of it was
// given: an idle connection holds none. readMu is held.
func (c *MessageConn) fill(ctx context.Context) error {
	if c.rbuf != nil {
		putBuf(c.rbuf)
		c.rbuf, c.rr = nil, 0
	}
	if ctx.Done() != nil {
		if err := ctx.Err(); err != nil {
			return err
		}
		c.mu.Lock()
		c.readWaiting = true
		x := c.extra()
		if x.interruptFn == nil {
			x.interruptFn = c.interruptRead
		}
		interrupt := x.interruptFn
		c.mu.Unlock()
		stop := context.AfterFunc(ctx, interrupt)
		defer func() {
			stop()
			c.mu.Lock()
			c.readWaiting = false
			if c.interrupted && !c.readClosed {
				c.nc.SetReadDeadline(time.Time{})
			}
			c.interrupted = false
			c.mu.Unlock()
		}()
	}

	err := c.raw.Read(c.readFn)
	for errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil && c.staleInterrupt() {
		err = c.raw.Read(c.readFn)
	}
	if err == nil {
		err = c.rerr
	}
	switch {
	case err == nil && c.rn > 0:
		return nil
	case err == nil, errors.Is(err, io.EOF):
		c.mu.Lock()
		ev := c.core.ReceiveEOF()
		c.drive()
		if ev.Kind == protocol.Hangup {
			c.readErr = &CloseError{Code: StatusCode(ev.Code), Reason: ev.Reason, Remote: true}
		} else if c.readErr = c.end.Load(); c.readErr == nil {
			c.readErr = c.closeError()
		}
		c.unlock()
		return nil
	case errors.Is(err, os.ErrDeadlineExceeded):
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.closedErr()
	case errors.Is(err, net.ErrClosed):
		<-c.Done() // only finish closes the socket
		c.readErr = c.end.Load()
		return nil
	default:
		c.mu.Lock()
		c.readErr = &CloseError{Code: StatusAbnormalClosure, Reason: "read failed: " + err.Error(), Remote: true}
		c.finish(c.readErr)
		c.unlock()
		return nil
	}
}

// readClasses are the read buffer's sizes: a read that fills one asks for
// the next, so that a stream of large frames is read in large pieces, and
// the core copies a frame only when it arrives cut.
var readClasses = [...]int{readChunk, 16 << 10, 64<<10 + 64}

// readSome is the RawConn.Read callback. It borrows a buffer only once the
// socket is readable.
func (c *MessageConn) readSome(fd uintptr) bool {
	c.rbuf = getBuf(readClasses[c.rclass])
	b := (*c.rbuf)[:cap(*c.rbuf)]
	for {
		n, err := unix.Read(int(fd), b)
		switch err {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			putBuf(c.rbuf)
			c.rbuf = nil
			return false
		}
		c.rn, c.rerr = int32(n), err
		if n > 0 {
			*c.rbuf = b[:n]
			switch {
			case n == len(b) && int(c.rclass) < len(readClasses)-1:
				c.rclass++
			case n <= readChunk:
				c.rclass = 0
			}
		} else {
			putBuf(c.rbuf)
			c.rbuf = nil
		}
		if err == nil && n == 0 {
			c.rerr = io.EOF
		}
		return true
	}
}

// interruptRead wakes a Read waiting on the socket because its ctx ended.
func (c *MessageConn) interruptRead() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.readWaiting {
		c.interrupted = true
		c.nc.SetReadDeadline(time.Unix(1, 0))
	}
}

// staleInterrupt is called when the wait ended at a past deadline although
// this Read's ctx is live. The interrupt then came from an earlier Read's
// ctx, whose AfterFunc had already started when that Read returned with its
// message; it reports true after clearing the deadline, so that the wait
// goes on. A deadline set by stopReading or a closing Close is real: false.
func (c *MessageConn) staleInterrupt() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.readClosed {
		return false
	}
	c.interrupted = false
	c.nc.SetReadDeadline(time.Time{})
	return true
}

// stopReading makes the current and every later Read return ErrClosed.
// mu is held.
func (c *MessageConn) stopReading() {
	c.readClosed = true
	if c.end.Load() == nil {
		c.nc.SetReadDeadline(time.Unix(1, 0))
	}
}
