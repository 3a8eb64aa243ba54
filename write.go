package dorrit

import (
	"context"
	"errors"
	"time"
	"unsafe"

	"github.com/dorritgo/dorrit/internal/protocol"
	"golang.org/x/sys/unix"
)

// iovBatch bounds how many buffers leave in one writev. The array lives on
// the stack of the goroutine that writes, usually the application's: at 64
// (1 KiB) it grew every connection's stack from 2 to 4 KiB on its first
// answer, for good (TestConnectionsThatTalkedKeepTheSmallestStack). With
// frames sharing buffers, 8 buffers are up to 100 small frames, 24 of
// 4 KiB or 512 KiB of large ones: more than a socket takes at once.
const iovBatch = 8

// Write queues msg as one text message and returns at once; the socket is
// written as soon as it accepts bytes, many queued frames per writev. msg is
// copied, so the caller may reuse it. A message longer than BufferSize-5
// leaves as several fragments, each counted in the queue.
//
// An empty msg is sent as an empty message, as RFC 6455 allows. Write
// never blocks. It fails with ErrInvalidUTF8 for a msg that is not valid
// UTF-8, ErrQueueFull when the client is too slow (nothing queued before is lost),
// ErrMessageTooLarge when msg could never fit in the queue, and, once a
// close has begun (Close, Shutdown, the client's close frame, a failure),
// the *CloseError that says why (errors.Is(err, ErrClosed) holds). A
// handler that gets it should return and let its deferred Close wait for
// the drain: CloseNow there would drop what is still queued and reset a
// client that is still sending.
func (c *MessageConn) Write(msg []byte) error {
	c.mu.Lock()
	err := c.write(msg)
	c.unlock()
	return err
}

// write is Write with mu held. A large message written while nothing else
// waits goes to the socket straight from msg, headers on this stack: one
// non-blocking writev under mu; only what the socket does not take at once
// is copied into the queue (at 60 KiB the copy was a sixth of the CPU time
// of an echo).
func (c *MessageConn) write(msg []byte) error {
	if len(msg) >= protocol.DirectMin && !c.flushing && !c.corked && c.end.Load() == nil {
		return c.writeDirect(msg)
	}
	if err := c.core.Write(msg); err != nil {
		return c.writeErr(err)
	}
	c.flushUnlessCorked()
	return nil
}

// writeDirect is write for a large message: its headers and iovecs live in
// a frame of its own, which the small messages' path does not carry
// (TestConnectionsThatTalkedKeepTheSmallestStack).
//
//go:noinline
func (c *MessageConn) writeDirect(msg []byte) error {
	var hdr protocol.DirectHeaders
	var iov [2 * protocol.DirectFragments][]byte
	out, err := c.core.WriteDirect(msg, &hdr, iov[:0])
	if err != nil {
		return c.writeErr(err)
	}
	if len(out) == 0 { // queued as Write queues
		c.flushUnlessCorked()
		return nil
	}
	n, werr := c.writev(out)
	c.core.DirectWritten(msg, n)
	c.afterWrite(werr)
	return nil
}

// writeErr is what Write returns for the core's refusal. mu is held.
func (c *MessageConn) writeErr(err error) error {
	if err == protocol.ErrClosing {
		return c.closedErr()
	}
	return err
}

// WriteContext is Write that waits for room in the queue instead of failing
// with ErrQueueFull. It returns ctx.Err() if ctx ends first; the message is
// then not queued.
func (c *MessageConn) WriteContext(ctx context.Context, msg []byte) error {
	for {
		c.mu.Lock()
		err := c.write(msg)
		if err != ErrQueueFull {
			c.unlock()
			return err
		}
		wake := c.wakeChan()
		c.unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// flush writes what the socket takes now; what is left goes to a flusher
// goroutine that exists only while the client is slow to read. mu is held.
func (c *MessageConn) flush() {
	if c.flushing || c.core.Unsent() == 0 || c.end.Load() != nil {
		return
	}
	blocked, err := c.writeOut()
	switch {
	case err != nil:
		c.writeFailed(err)
	case blocked:
		c.startFlusher()
	}
}

// startFlusher leaves the rest of the queue to a flusher goroutine, which
// waits for the socket without mu. mu is held.
func (c *MessageConn) startFlusher() {
	c.flushing = true
	go c.flushLoop()
}

// writeOut writes the core's output until it is empty or the socket is
// full (blocked). mu is held.
func (c *MessageConn) writeOut() (blocked bool, err error) {
	for {
		var iov [iovBatch][]byte
		out := c.core.Output(iov[:0])
		if len(out) == 0 {
			return false, nil
		}
		n, err := c.writev(out)
		closing := c.core.State() == protocol.Closing
		c.core.Wrote(n)
		if n > 0 {
			if closing && c.core.State() != protocol.Closing {
				c.closeLeft = true
			}
			c.wakeWaiters()
		}
		switch err {
		case nil:
		case unix.EAGAIN:
			return true, nil
		default:
			return false, err
		}
	}
}

// afterWrite hands the rest of a direct write to a flusher. mu is held.
func (c *MessageConn) afterWrite(err error) {
	switch {
	case err != nil && err != unix.EAGAIN:
		c.writeFailed(err)
	case c.core.Unsent() > 0:
		c.startFlusher()
	}
}

// writeFailed ends a connection whose socket refused a write. mu is held.
func (c *MessageConn) writeFailed(err error) {
	c.stopReading()
	c.finish(&CloseError{Code: StatusAbnormalClosure, Reason: "write failed: " + err.Error()})
}

// writev writes bufs with one system call on the socket, which only finish
// closes, under mu: so the descriptor is the socket's while mu is held.
func (c *MessageConn) writev(bufs [][]byte) (int, error) {
	var iov [iovBatch]unix.Iovec
	n := 0
	for _, b := range bufs {
		if len(b) > 0 && n < len(iov) {
			iov[n].Base = &b[0]
			iov[n].SetLen(len(b))
			n++
		}
	}
	if n == 0 {
		return 0, nil
	}
	for {
		w, _, errno := unix.Syscall(unix.SYS_WRITEV, uintptr(c.fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(n))
		switch errno {
		case 0:
			return int(w), nil
		case unix.EINTR:
			continue
		}
		return 0, errno
	}
}

// flushLoop waits, without mu, for the socket to take more, and writes the
// rest of the queue under mu.
func (c *MessageConn) flushLoop() {
	for {
		err := c.raw.Write(waitWritable)
		c.mu.Lock()
		if c.end.Load() != nil {
			c.flushing = false
			c.mu.Unlock()
			return
		}
		blocked := false
		if err == nil {
			blocked, err = c.writeOut()
		}
		if err != nil && !errors.Is(err, unix.EAGAIN) {
			c.flushing = false
			c.writeFailed(err)
			c.unlock()
			return
		}
		if !blocked {
			c.flushing = false
			c.drive()
			c.unlock()
			return
		}
		c.mu.Unlock()
	}
}

// waitWritable is the flusher's RawConn.Write callback: it reports whether
// the socket takes bytes now, and otherwise lets the poller wait for it.
// It writes nothing itself, so that it needs no lock.
func waitWritable(fd uintptr) bool {
	p := [1]unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	n, err := unix.Poll(p[:], 0)
	return err != nil || n > 0
}

// drive acts on the core's state after a call into it: it writes the
// output, shuts the write side once the close frame has left (so that the
// end of stream follows it), and ends the connection once the core is
// Closed. mu is held.
func (c *MessageConn) drive() {
	c.flush()
	switch c.core.State() {
	case protocol.Linger:
		if !c.shut {
			c.shut = true
			c.nc.CloseWrite()
			c.wakeWaiters()
		}
	case protocol.Closed:
		c.finish(c.closeError())
	}
}

// closeError is the core's reason to close as a *CloseError. mu is held.
func (c *MessageConn) closeError() *CloseError {
	why := c.core.Why()
	return &CloseError{Code: StatusCode(why.Code), Reason: why.Reason, Remote: why.Remote}
}

// writeExtra is the state that only the cork, WriteContext waiters, a
// cancellable Read and CloseRead use, made on first need so that a
// connection that never needs it does not carry it. Guarded by mu.
type writeExtra struct {
	corkTimer   *time.Timer
	corkArmed   bool            // corkTimer runs: it fires corkDelay after the first held-back frame
	wake        chan struct{}   // closed when bytes left or the connection's state moved
	readCtx     context.Context // returned by CloseRead
	interruptFn func()          // interruptRead, bound once
}

func (c *MessageConn) extra() *writeExtra {
	if c.wx == nil {
		c.wx = new(writeExtra)
	}
	return c.wx
}

// wakeChan is closed at the next progress: bytes written, a close frame
// gone, the end. mu is held.
func (c *MessageConn) wakeChan() chan struct{} {
	x := c.extra()
	if x.wake == nil {
		x.wake = make(chan struct{})
		if c.end.Load() != nil {
			close(x.wake)
		}
	}
	return x.wake
}

// wakeWaiters wakes WriteContext calls waiting for room and closes waiting
// for delivery. mu is held.
func (c *MessageConn) wakeWaiters() {
	if c.wx != nil && c.wx.wake != nil {
		close(c.wx.wake)
		c.wx.wake = nil
	}
}
