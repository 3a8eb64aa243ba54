package dorrit

import (
	"unsafe"

	"github.com/dorritgo/dorrit/internal/protocol"
	"golang.org/x/sys/unix"
)

// A large message written while nothing else waits goes to the socket
// straight from the caller's slice, headers on the stack; only what the
// socket does not take at once is copied into the queue. At 60 KiB the copy
// was a sixth of the CPU time of an echo.
const (
	directMin       = 1 << 10 // below this, copying is cheaper than the set-up
	directFragments = 4       // per writev; their headers and iovecs live on the writer's stack (see iovBatch)
)

// canWriteDirect reports whether msg may skip the queue. wmu is held.
func (c *MessageConn) canWriteDirect(msg []byte, frames int) bool {
	return len(msg) >= directMin && frames <= directFragments &&
		len(c.queue) == 0 && !c.flushing && !c.corked.Load()
}

// writeDirect sends msg without copying what the socket takes. wmu is held
// throughout: no flusher exists, so nobody else takes the socket's write
// lock, and a pong waits for wmu.
func (c *MessageConn) writeDirect(msg []byte) {
	c.bindWriters()
	x := c.extra()
	if x.directFn == nil {
		x.directFn = c.writeDirectSome
	}
	x.direct, x.directSent = msg, 0
	if err := c.raw.Write(x.directFn); err != nil && c.werr == nil {
		c.werr = err
	}
	sent := x.directSent
	x.direct = nil

	// Queue what is left, the frame cut in the middle first.
	op, off := byte(protocol.OpText), 0
	for rest := msg; ; {
		n := min(len(rest), c.maxPayload)
		fin := n == len(rest)
		var hdr [protocol.MaxServerHeader]byte
		frameLen := protocol.PutHeader(hdr[:], fin, op, n) + n
		if sent < off+frameLen {
			b := getBuf(frameLen)
			*b = append(append((*b)[:0], hdr[:frameLen-n]...), rest[:n]...)
			c.pushData(b)
			if sent > off {
				c.qoff = sent - off
			}
		}
		off += frameLen
		if fin {
			break
		}
		rest, op = rest[n:], protocol.OpContinuation
	}
	if c.werr != nil {
		c.afterFlushLocked()
		return
	}
	if len(c.queue) > 0 {
		c.flushing = true
		go c.flushLoop()
	}
}

// writeDirectSome is the RawConn.Write callback of writeDirect: one writev
// of every fragment's header and payload; it never waits.
func (c *MessageConn) writeDirectSome(fd uintptr) bool {
	var hdrs [directFragments][protocol.MaxServerHeader]byte
	var iov [2 * directFragments]unix.Iovec
	x := c.wx
	n, op := 0, byte(protocol.OpText)
	for rest := x.direct; ; {
		size := min(len(rest), c.maxPayload)
		fin := size == len(rest)
		h := &hdrs[n/2]
		hl := protocol.PutHeader(h[:], fin, op, size)
		iov[n].Base = &h[0]
		iov[n].SetLen(hl)
		iov[n+1].Base = &rest[0]
		iov[n+1].SetLen(size)
		n += 2
		if fin {
			break
		}
		rest, op = rest[size:], protocol.OpContinuation
	}
	for {
		w, _, errno := unix.Syscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(n))
		switch errno {
		case 0:
			x.directSent = int(w)
		case unix.EINTR:
			continue
		case unix.EAGAIN:
		default:
			c.werr = errno
		}
		return true
	}
}
