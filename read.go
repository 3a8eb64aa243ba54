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

// reader is the state of the read side between calls to Read.
type reader struct {
	buf *[]byte // pooled, nil while nothing is in flight; unread bytes are (*buf)[r:]
	r   int

	h          protocol.Header // current frame, valid when haveHeader
	done       int             // payload bytes of h already unmasked and checked
	haveHeader bool

	inMessage bool   // a fragmented text message is being reassembled
	fragments uint16 // its frames so far, bounded by protocol.MaxFragments
	utf8      protocol.UTF8State
	msg       *[]byte // its bytes so far

	lent *[]byte // buffer whose bytes the caller holds until the next Read
	n    int32   // result of the last read system call: a buffer's size at most, and int32 keeps MessageConn in its size class

	// given: Read returned a message and the handler has not called Read
	// again, so it may still be answering it (Shutdown waits for that).
	// afterClose: our close frame has left, and what the client still
	// sends is discarded uncounted. answered: the first read has sent the
	// 101 (it waits in the queue until the application reads or writes).
	given, afterClose, answered bool

	rerr error
	err  error // sticky: the connection is over for reading
}

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
		// waiting. The common path takes dlMu once, as before.
		if err := c.readRefused(discarder); err != nil {
			return nil, err
		}
		c.readMu.Lock()
	}
	defer c.readMu.Unlock()
	c.rd.given = false
	if !c.rd.answered {
		c.rd.answered = true
		c.wmu.Lock()
		c.flushOrHandOff()
		c.wmu.Unlock()
	}
	if err := c.readRefused(discarder); err != nil {
		if err != errReadAfterCloseRead {
			c.releaseLent()
		}
		return nil, err
	}
	msg, err := c.readMessage(ctx)
	c.rd.given = err == nil && !discarder
	return msg, err
}

// readRefused says why a Read may not read: CloseRead's goroutine does the
// reading, or reading is over.
func (c *MessageConn) readRefused(discarder bool) error {
	c.dlMu.Lock()
	discarding, closed := c.discarding, c.readClosed
	c.dlMu.Unlock()
	switch {
	case discarding && !discarder:
		return errReadAfterCloseRead
	case closed:
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
	c.wmu.Lock()
	x := c.extra()
	if x.readCtx != nil {
		c.wmu.Unlock()
		return x.readCtx
	}
	readCtx, cancel := context.WithCancel(ctx)
	x.readCtx = readCtx
	c.wmu.Unlock()

	c.dlMu.Lock()
	c.discarding = true
	c.dlMu.Unlock()
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

// readMessage runs the frame engine until a message is complete. readMu is held.
func (c *MessageConn) readMessage(ctx context.Context) ([]byte, error) {
	rd := &c.rd
	c.releaseLent()
	for {
		if rd.err != nil {
			c.releaseRead()
			return nil, rd.err
		}
		msg, ok := c.nextMessage()
		if ok {
			if more := len(*rd.buf) > rd.r; more || c.corked.Load() {
				c.setCork(more)
			}
			return msg, nil
		}
		if rd.err != nil {
			continue
		}
		if c.corked.Load() {
			c.setCork(false) // about to wait: let the answers go
		}
		if err := c.fill(ctx); err != nil {
			return nil, err
		}
	}
}

// nextMessage processes buffered bytes: it returns a complete message, or
// ok=false when more bytes are needed or the connection failed (rd.err set).
func (c *MessageConn) nextMessage() (msg []byte, ok bool) {
	rd := &c.rd
	for rd.buf != nil {
		in := (*rd.buf)[rd.r:]
		if !rd.haveHeader {
			h, complete := protocol.ParseHeader(in)
			if !complete {
				return nil, false
			}
			soFar := 0
			if rd.msg != nil {
				soFar = len(*rd.msg)
			}
			if code, why, text := protocol.CheckHeader(h, rd.inMessage, soFar, int(rd.fragments), c.maxPayload); code != 0 {
				c.fail(StatusCode(code), why, text)
				return nil, false
			}
			rd.h, rd.haveHeader, rd.done = h, true, 0
			switch h.Opcode {
			case protocol.OpText:
				rd.utf8.Reset()
				rd.fragments = 1
			case protocol.OpContinuation:
				rd.fragments++
			}
		}
		h := &rd.h
		length := int(h.Length)
		have := min(len(in)-h.Size, length)
		if have > rd.done {
			chunk := in[h.Size+rd.done : h.Size+have]
			protocol.Mask(h.Key, rd.done, chunk)
			rd.done = have
			if !protocol.IsControl(h.Opcode) && !rd.utf8.Check(chunk) {
				c.fail(StatusInvalidPayload, dropBadUTF8, "invalid UTF-8 in a text message")
				return nil, false
			}
		}
		if rd.done < length {
			return nil, false
		}
		payload := in[h.Size : h.Size+length]
		rd.r += h.Size + length
		rd.haveHeader = false
		switch h.Opcode {
		case protocol.OpPing:
			c.queuePong(payload)
			continue
		case protocol.OpPong:
			continue
		case protocol.OpClose:
			c.closeReceived(payload)
			return nil, false
		}
		if h.Fin && !rd.utf8.Complete() {
			c.fail(StatusInvalidPayload, dropBadUTF8, "text message ends inside a UTF-8 sequence")
			return nil, false
		}
		if h.Fin && !rd.inMessage {
			c.countIn(len(payload))
			return payload, true // straight from the read buffer: no copy
		}
		if rd.msg == nil {
			rd.msg = getBuf(c.maxPayload)
		}
		*rd.msg = append(*rd.msg, payload...)
		rd.inMessage = !h.Fin
		if h.Fin {
			rd.lent, rd.msg = rd.msg, nil
			c.countIn(len(*rd.lent))
			return *rd.lent, true
		}
	}
	return nil, false
}

func (c *MessageConn) countIn(n int) {
	if c.rd.afterClose {
		return // discarded, not read: the figures say what the server read
	}
	c.counters.messagesIn.Add(1)
	c.counters.bytesIn.Add(uint64(n))
}

// releaseLent takes back what the previous Read returned.
func (c *MessageConn) releaseLent() {
	if c.rd.lent != nil {
		putBuf(c.rd.lent)
		c.rd.lent = nil
	}
}

// detach lets the caller keep the last message Read returned, which stays
// valid until the caller's next Read, while Close goes on reading: the
// unread bytes move to a buffer of their own and the old one is left to the GC.
func (rd *reader) detach() {
	rd.lent = nil
	if rd.buf != nil {
		nb := getBuf(max(len(*rd.buf)-rd.r, readChunk))
		*nb = append(*nb, (*rd.buf)[rd.r:]...)
		rd.buf, rd.r = nb, 0
	}
}

// releaseRead frees every read buffer once reading is over.
func (c *MessageConn) releaseRead() {
	rd := &c.rd
	putBuf(rd.buf)
	putBuf(rd.msg)
	rd.buf, rd.msg, rd.r = nil, nil, 0
}

// fill waits until the socket has bytes and reads them. It makes room for
// the frame in flight first; with nothing in flight it gives the buffer back,
// so that an idle connection holds none.
func (c *MessageConn) fill(ctx context.Context) error {
	rd := &c.rd
	if rd.buf != nil {
		unread := len(*rd.buf) - rd.r
		need := protocol.MaxHeaderLen
		if rd.haveHeader {
			need = rd.h.Size + int(rd.h.Length)
		}
		switch {
		case unread == 0:
			putBuf(rd.buf)
			rd.buf, rd.r = nil, 0
		case cap(*rd.buf)-rd.r < need || rd.r > 0 && len(*rd.buf) == cap(*rd.buf):
			nb := rd.buf
			if cap(*rd.buf) < need {
				nb = getBuf(max(need, readChunk))
			}
			n := copy((*nb)[:cap(*nb)], (*rd.buf)[rd.r:])
			if nb != rd.buf {
				putBuf(rd.buf)
			}
			*nb = (*nb)[:n]
			rd.buf, rd.r = nb, 0
		}
	}

	if ctx.Done() != nil {
		if err := ctx.Err(); err != nil {
			return err
		}
		c.dlMu.Lock()
		c.readWaiting = true
		c.dlMu.Unlock()
		if c.interruptFn == nil {
			c.interruptFn = c.interruptRead
		}
		stop := context.AfterFunc(ctx, c.interruptFn)
		defer func() {
			stop()
			c.dlMu.Lock()
			c.readWaiting = false
			if c.interrupted && !c.readClosed {
				c.nc.SetReadDeadline(time.Time{})
			}
			c.interrupted = false
			c.dlMu.Unlock()
		}()
	}

	err := c.raw.Read(c.readFn)
	for errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil && c.staleInterrupt() {
		err = c.raw.Read(c.readFn)
	}
	if err == nil {
		err = rd.rerr
	}
	switch {
	case err == nil && rd.n > 0:
		c.markRead()
		return nil
	case err == nil, errors.Is(err, io.EOF):
		rd.err = &CloseError{Code: StatusAbnormalClosure, Reason: "client hung up without a close frame", Remote: true}
		go c.finish(rd.err.(*CloseError))
		return nil
	case errors.Is(err, os.ErrDeadlineExceeded):
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return c.closedErr()
	case errors.Is(err, net.ErrClosed):
		<-c.Done() // only finish closes the socket
		rd.err = c.end.Load()
		return nil
	default:
		rd.err = &CloseError{Code: StatusAbnormalClosure, Reason: "read failed: " + err.Error(), Remote: true}
		go c.finish(rd.err.(*CloseError))
		return nil
	}
}

// readSome is the RawConn.Read callback. It borrows a buffer only once the
// socket is readable.
func (c *MessageConn) readSome(fd uintptr) bool {
	rd := &c.rd
	borrowed := false
	if rd.buf == nil {
		rd.buf, borrowed = getBuf(readChunk), true
	}
	b := *rd.buf
	for {
		n, err := unix.Read(int(fd), b[len(b):cap(b)])
		switch err {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			if borrowed {
				putBuf(rd.buf)
				rd.buf = nil
			}
			return false
		}
		rd.n, rd.rerr = int32(n), err
		if n > 0 {
			*rd.buf = b[:len(b)+n]
		} else if borrowed {
			putBuf(rd.buf)
			rd.buf = nil
		}
		if err == nil && n == 0 {
			rd.rerr = io.EOF
		}
		return true
	}
}

// interruptRead wakes a Read waiting on the socket because its ctx ended.
func (c *MessageConn) interruptRead() {
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
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
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	if c.readClosed {
		return false
	}
	c.interrupted = false
	c.nc.SetReadDeadline(time.Time{})
	return true
}

// stopReading makes the current and every later Read return ErrClosed.
func (c *MessageConn) stopReading() {
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	c.readClosed = true
	c.nc.SetReadDeadline(time.Unix(1, 0))
}
