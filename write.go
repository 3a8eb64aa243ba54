package dorrit

import (
	"context"
	"math"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/dorritgo/dorrit/internal/protocol"
	"golang.org/x/sys/unix"
)

// writeState is how far the write side is on its way to closing.
type writeState uint8

const (
	writeOpen    writeState = iota
	writeClosing            // a close frame is queued: Write fails with ErrClosed
	writeClosed             // the socket is closed
)

type frameKind uint8

const (
	frameData   frameKind = iota
	frameShared           // a data frame of a PreparedMessage: read-only, not pooled
	frameControl
	frameClose
	frameAnswer // the handshake's 101, first in the queue until it leaves
)

// outFrame is one buffer waiting in the queue: one encoded frame, or, for
// frameData, several written back to back (see appendToLast).
type outFrame struct {
	buf    *[]byte
	kind   frameKind
	frames uint8 // data frames in buf, for the 200-frame count
}

func (f outFrame) isData() bool { return f.kind == frameData || f.kind == frameShared }

// release gives f's buffer back to its pool, unless other queues share it.
func (f outFrame) release() {
	if f.kind != frameShared {
		putBuf(f.buf)
	}
}

// iovBatch bounds how many buffers leave in one writev. The array lives on
// the stack of the goroutine that writes, usually the application's: at 64
// (1 KiB) it grew every connection's stack from 2 to 4 KiB on its first
// answer, for good (TestConnectionsThatTalkedKeepTheSmallestStack). With
// frames sharing buffers, 16 buffers are up to 200 small frames, 48 of
// 4 KiB or 1 MiB of large ones: more than a socket takes at once.
const iovBatch = 16

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
	if !utf8.Valid(msg) {
		return ErrInvalidUTF8
	}
	frames := framesOf(len(msg), c.maxPayload)
	if frames > MaxQueuedFrames {
		return ErrMessageTooLarge
	}
	c.wmu.Lock()
	if err := c.admit(len(msg), frames); err != nil {
		c.wmu.Unlock()
		return err
	}
	if c.canWriteDirect(msg, frames) {
		c.writeDirect(msg)
	} else {
		c.enqueueMessage(msg)
		c.flushUnlessCorked()
	}
	c.wmu.Unlock()
	return nil
}

// framesOf is how many frames a message of n bytes takes: an empty one takes one.
func framesOf(n, maxPayload int) int {
	return max(1, (n+maxPayload-1)/maxPayload)
}

// admit decides, with wmu held, whether a message of n bytes in frames
// frames may be queued, and counts it: the close state, the 200-frame rule,
// then the listener's budget.
func (c *MessageConn) admit(n, frames int) error {
	if c.wstate != writeOpen {
		return c.closedErrLocked()
	}
	full := int(c.queued)+frames > MaxQueuedFrames
	if !full && c.overBudget(n) {
		full = true
		c.ln.counters.queueBudget.Add(1)
	}
	if full {
		c.counters.queueFull.Add(1)
		return ErrQueueFull
	}
	c.counters.messagesOut.Add(1)
	c.counters.bytesOut.Add(uint64(n))
	return nil
}

// WriteContext is Write that waits for room in the queue instead of failing
// with ErrQueueFull. It returns ctx.Err() if ctx ends first; the message is
// then not queued.
func (c *MessageConn) WriteContext(ctx context.Context, msg []byte) error {
	for {
		err := c.Write(msg)
		if err != ErrQueueFull {
			return err
		}
		c.wmu.Lock()
		if c.wstate != writeOpen {
			c.wmu.Unlock()
			return c.closedErr()
		}
		if int(c.queued)+framesOf(len(msg), c.maxPayload) <= MaxQueuedFrames && !c.overBudget(len(msg)) {
			c.wmu.Unlock() // room appeared between Write and here
			continue
		}
		x := c.extra()
		if x.room == nil {
			x.room = make(chan struct{})
		}
		room := x.room
		c.wmu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// enqueueMessage encodes msg as frames of at most maxPayload bytes. wmu is held.
func (c *MessageConn) enqueueMessage(msg []byte) {
	op := byte(protocol.OpText)
	for {
		n := min(len(msg), c.maxPayload)
		fin := n == len(msg)
		if !c.appendToLast(fin, op, msg[:n]) {
			size := protocol.MaxServerHeader + n
			if n <= smallFrame && c.corked.Load() {
				size = batchBuf // more small answers are on their way
			}
			b := getBuf(size)
			hl := protocol.PutHeader((*b)[:protocol.MaxServerHeader], fin, op, n)
			*b = append((*b)[:hl], msg[:n]...)
			c.pushData(b)
		}
		if fin {
			return
		}
		msg, op = msg[n:], protocol.OpContinuation
	}
}

// Frames share buffers. An echo of pipelined 128-byte messages took a
// pooled buffer per answer and handed it back after the writev: sync.Pool's
// Get and Put were 7 % of the server's CPU time (perf, bench/'s 128 B
// workload), and every answer was an iovec of its own. Now a frame goes at
// the end of the last queued data buffer when it fits (a 4 KiB frame takes
// the 16 KiB class, which so holds three), and a corked batch of small
// frames starts a buffer with room for about 30 of them.
const (
	smallFrame = 256 - protocol.MaxServerHeader // payloads up to this are small
	batchBuf   = 4 << 10
)

// appendToLast writes the frame at the end of the queue's last buffer if
// that holds data frames of this connection and has room, and counts it.
// wmu is held: writeSome holds it too, so no writev reads the buffer
// while it grows.
func (c *MessageConn) appendToLast(fin bool, op byte, payload []byte) bool {
	if len(c.queue) == 0 {
		return false
	}
	last := &c.queue[len(c.queue)-1]
	b := last.buf
	if last.kind != frameData || last.frames == math.MaxUint8 || cap(*b)-len(*b) < protocol.MaxServerHeader+len(payload) {
		return false
	}
	at := len(*b)
	hl := protocol.PutHeader((*b)[at:at+protocol.MaxServerHeader], fin, op, len(payload))
	*b = append((*b)[:at+hl], payload...)
	last.frames++
	c.queued++
	c.addQueued(hl + len(payload))
	return true
}

// pushData queues a data frame and counts it. wmu is held.
func (c *MessageConn) pushData(b *[]byte) {
	c.push(outFrame{buf: b, kind: frameData, frames: 1})
	c.queued++
	c.addQueued(len(*b))
}

// push appends f to the queue, which starts from a pooled array whenever
// it was empty. wmu is held.
func (c *MessageConn) push(f outFrame) {
	if c.queue == nil {
		c.queue = getQueue()
	}
	c.queue = append(c.queue, f)
}

// queuePong answers a ping at the next frame boundary, ahead of queued data.
// Only the newest unanswered ping gets its pong (RFC 6455 §5.5.3), so a
// client that pings and never reads cannot grow the queue.
func (c *MessageConn) queuePong(payload []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.wstate != writeOpen {
		return
	}
	if c.pong != nil && !(c.qoff > 0 && c.queue[0].buf == c.pong) {
		hl := protocol.PutHeader((*c.pong)[:protocol.MaxServerHeader], true, protocol.OpPong, len(payload))
		*c.pong = append((*c.pong)[:hl], payload...)
		return
	}
	c.pong = c.pushControl(protocol.OpPong, payload)
	c.flushOrHandOff()
}

// queuePing sends a keepalive ping with an empty payload, ahead of queued
// data like a pong.
func (c *MessageConn) queuePing() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.wstate != writeOpen {
		return
	}
	c.pushControl(protocol.OpPing, nil)
	c.flushOrHandOff()
}

// pushControl queues a control frame at the next frame boundary. wmu is held.
func (c *MessageConn) pushControl(op byte, payload []byte) *[]byte {
	b := getBuf(protocol.MaxServerHeader + len(payload))
	hl := protocol.PutHeader((*b)[:protocol.MaxServerHeader], true, op, len(payload))
	*b = append((*b)[:hl], payload...)
	at := 0
	if c.qoff > 0 || len(c.queue) > 0 && c.queue[0].kind == frameAnswer {
		at = 1 // never inside a frame already on its way, never before the 101
	}
	c.push(outFrame{})
	copy(c.queue[at+1:], c.queue[at:])
	c.queue[at] = outFrame{buf: b, kind: frameControl}
	return b
}

// queueClose queues a close frame with why's code behind everything
// already queued and refuses further Writes, which return why. It reports
// false when a close frame was queued before. A close frame that answers
// the client's (why.Remote) carries its code without a reason.
func (c *MessageConn) queueClose(why *CloseError) bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.queueCloseLocked(why)
}

// queueCloseLocked is queueClose with wmu held.
func (c *MessageConn) queueCloseLocked(why *CloseError) bool {
	if c.wstate != writeOpen {
		return false
	}
	c.wstate = writeClosing
	c.closeSent = make(chan struct{})
	c.closeWhy = why
	c.peerClosed = why.Remote
	var p []byte
	if why.Code != StatusNoStatusRcvd {
		reason := why.Reason
		if why.Remote {
			reason = ""
		}
		p = protocol.AppendClosePayload(make([]byte, 0, protocol.MaxControlPayload), protocol.StatusCode(why.Code), reason)
	}
	b := getBuf(protocol.MaxServerHeader + len(p))
	hl := protocol.PutHeader((*b)[:protocol.MaxServerHeader], true, protocol.OpClose, len(p))
	*b = append((*b)[:hl], p...)
	c.push(outFrame{buf: b, kind: frameClose})
	c.flushOrHandOff()
	c.wakeRoomWaiters() // they learn that the connection is closing
	return true
}

// flushOrHandOff writes what the socket takes now; what is left goes to a
// flusher goroutine that exists only while the client is slow to read.
// wmu is held. The socket's write lock is taken only when no flusher holds
// it, so the lock order wmu → socket write lock never meets its reverse.
func (c *MessageConn) flushOrHandOff() {
	if c.flushing || len(c.queue) == 0 {
		return
	}
	c.flushing = true
	c.inlinePass = true
	c.bindWriters()
	c.wmu.Unlock()
	err := c.raw.Write(c.writeFn)
	c.wmu.Lock()
	c.inlinePass = false
	if err != nil && c.werr == nil {
		c.werr = err
	}
	if len(c.queue) > 0 && c.werr == nil && c.wstate != writeClosed {
		go c.flushLoop()
		return
	}
	c.flushing = false
	c.afterFlushLocked()
}

// afterFlushLocked ends the connection when the close handshake is complete
// or the socket failed. wmu is held; ending happens on its own goroutine
// because the caller may be deep inside Read or Write.
func (c *MessageConn) afterFlushLocked() {
	if c.werr != nil && c.wstate != writeClosed {
		go c.finish(&CloseError{Code: StatusAbnormalClosure, Reason: "write failed: " + c.werr.Error()})
		return
	}
	if c.wstate == writeClosing && len(c.queue) == 0 && c.peerClosed {
		go c.finish(c.closeWhy)
	}
}

// bindWriters makes the socket callbacks when a connection first writes,
// so that one that only ever waits to read does not carry them. wmu is held.
func (c *MessageConn) bindWriters() {
	if c.writeFn == nil {
		c.writeFn = c.writeSome
	}
}

// writeExtra is the state that only large writes, the cork, WriteContext
// waiters and CloseRead use, made on first need so that a connection that
// never needs it does not carry it. Guarded by wmu.
type writeExtra struct {
	corkTimer  *time.Timer
	corkArmed  bool   // corkTimer runs: it fires corkDelay after the first held-back frame
	direct     []byte // the message writeDirect is sending
	directSent int
	directFn   func(fd uintptr) bool
	room       chan struct{}   // closed when the queue has room again, or closes
	readCtx    context.Context // returned by CloseRead
}

func (c *MessageConn) extra() *writeExtra {
	if c.wx == nil {
		c.wx = new(writeExtra)
	}
	return c.wx
}

// wakeRoomWaiters wakes the WriteContext calls waiting for room. wmu is held.
func (c *MessageConn) wakeRoomWaiters() {
	if c.wx != nil && c.wx.room != nil {
		close(c.wx.room)
		c.wx.room = nil
	}
}

// flushLoop waits for the socket to take the rest of the queue.
func (c *MessageConn) flushLoop() {
	for {
		err := c.raw.Write(c.writeFn)
		c.wmu.Lock()
		if err != nil && c.werr == nil {
			c.werr = err
		}
		if len(c.queue) == 0 || c.werr != nil || c.wstate == writeClosed {
			c.flushing = false
			c.afterFlushLocked()
			c.wmu.Unlock()
			return
		}
		c.wmu.Unlock()
	}
}

// writeSome is the RawConn.Write callback: it writes queued frames until the
// queue is empty or the socket would block. On a full socket the inline pass
// returns at once so that Write never blocks; flushLoop's pass returns false
// to wait for writability.
func (c *MessageConn) writeSome(fd uintptr) bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for len(c.queue) > 0 && c.wstate != writeClosed {
		var iov [iovBatch]unix.Iovec
		n := 0
		for i := 0; i < len(c.queue) && n < iovBatch; i++ {
			b := *c.queue[i].buf
			if i == 0 {
				b = b[c.qoff:]
			}
			iov[n].Base = &b[0]
			iov[n].SetLen(len(b))
			n++
		}
		w, _, errno := unix.Syscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(n))
		switch errno {
		case 0:
			c.consume(int(w))
		case unix.EINTR:
		case unix.EAGAIN:
			return c.inlinePass
		default:
			c.werr = errno
			return true
		}
	}
	return true
}

// consume drops n written bytes from the head of the queue.
func (c *MessageConn) consume(n int) {
	done := 0
	for n > 0 && done < len(c.queue) {
		f := c.queue[done]
		rest := len(*f.buf) - c.qoff
		if n < rest {
			c.qoff += n
			break
		}
		n -= rest
		c.qoff = 0
		done++
		switch f.kind {
		case frameData, frameShared:
			c.queued -= int32(f.frames)
			c.addQueued(-len(*f.buf))
		case frameControl:
			if f.buf == c.pong {
				c.pong = nil
			}
		case frameClose:
			close(c.closeSent)
		}
		f.release()
	}
	if done == 0 {
		return
	}
	m := copy(c.queue, c.queue[done:])
	clear(c.queue[m:])
	c.queue = c.queue[:m]
	if m == 0 {
		putQueue(c.queue)
		c.queue = nil
	}
	c.wakeRoomWaiters()
}

// releaseQueue frees every queued frame. wmu is held.
func (c *MessageConn) releaseQueue() {
	for _, f := range c.queue {
		f.release()
	}
	clear(c.queue)
	putQueue(c.queue)
	c.addQueued(-int(c.qbytes))
	c.queue, c.qoff, c.queued, c.pong = nil, 0, 0, nil
}
