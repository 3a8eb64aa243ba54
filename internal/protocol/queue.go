package protocol

// kind is what a queued buffer holds.
type kind uint8

const (
	kindData    kind = iota // data frames of this connection, written back to back
	kindShared              // one data frame of a Prepared: read-only, never pooled
	kindControl             // a pong or a ping
	kindClose               // the close frame: always last, nothing is queued after it
	kindPreface             // the handshake's answer: first until it has left
)

// queued is one buffer waiting in the queue.
type queued struct {
	buf    *[]byte
	kind   kind
	frames uint8 // data frames in buf, for the 200-frame count
}

func (f queued) isData() bool { return f.kind == kindData || f.kind == kindShared }

// Output appends to dst the bytes to write next, in order, as many buffers
// as dst has room for (a writev's iovecs); it does not take them off the
// queue: Wrote does, once the socket took them. The order is the rules':
// the preface first, then pongs and pings at the next frame boundary, then
// data frames in the order they were written, then the close frame, and
// nothing after it. The engine writes them and calls Wrote (with 0 if the
// socket took nothing) before any other call on the Conn: until then the
// buffers must not change, and a pong may be rewritten by a newer ping.
func (c *Conn) Output(dst [][]byte) [][]byte {
	for i := 0; i < len(c.q) && len(dst) < cap(dst); i++ {
		b := *c.q[i].buf
		if i == 0 {
			b = b[c.qoff:]
		}
		dst = append(dst, b)
	}
	return dst
}

// Unsent is how many bytes wait in the queue: while a close waits for
// delivery it only shrinks, so any change is progress.
func (c *Conn) Unsent() int {
	n := -int(c.qoff)
	for _, f := range c.q {
		n += len(*f.buf)
	}
	return n
}

// QueuedFrames is how many data frames wait, at most MaxQueuedFrames.
func (c *Conn) QueuedFrames() int { return int(c.queued) }

// Wrote tells the core that the socket took the first n bytes of what
// Output returned. Buffers written whole go back to the pool. When the
// close frame has left, the state moves to Linger, or to Closed when the
// client's close frame came first.
func (c *Conn) Wrote(n int) {
	done := 0
	closeLeft := false
	for n > 0 && done < len(c.q) {
		f := c.q[done]
		rest := len(*f.buf) - int(c.qoff)
		if n < rest {
			c.qoff += int32(n)
			break
		}
		n -= rest
		c.qoff = 0
		done++
		switch f.kind {
		case kindData, kindShared:
			c.queued -= int32(f.frames)
			c.addQueued(-len(*f.buf))
		case kindControl:
			if f.buf == c.pong {
				c.pong = nil
			}
		case kindClose:
			closeLeft = true
		}
		c.release(f)
	}
	c.dequeue(done)
	if closeLeft {
		c.closeSent = true
		if c.peerClosed || c.state == Closed {
			c.setClosed()
		} else {
			c.state = Linger
		}
	}
}

// dequeue removes the first n entries, and gives the array back when the
// queue is empty.
func (c *Conn) dequeue(n int) {
	if n == 0 {
		return
	}
	m := copy(c.q, c.q[n:])
	clear(c.q[m:])
	c.q = c.q[:m]
	if m == 0 {
		c.dropQueue()
	}
}

// dropQueue forgets the empty queue's array, and gives it back to the pool
// when it is the pool's.
func (c *Conn) dropQueue() {
	if c.qarr != nil {
		c.cfg.Pool.PutQueue(c.qarr)
	}
	c.q, c.qarr = nil, nil
}

// release gives a written or dropped buffer back to the pool, unless other
// connections' queues share it.
func (c *Conn) release(f queued) {
	if f.kind != kindShared {
		c.cfg.Pool.Put(f.buf)
	}
}

// push appends f to the queue, which starts from a pooled array whenever
// it was empty.
func (c *Conn) push(f queued) {
	if c.q == nil {
		c.qarr = c.cfg.Pool.GetQueue()
		c.q = c.qarr[:0]
	}
	c.q = append(c.q, f)
	if c.qarr != nil && cap(c.q) != QueueLen {
		// Grown for a slow client: the pooled array is free again.
		clear(c.qarr[:])
		c.cfg.Pool.PutQueue(c.qarr)
		c.qarr = nil
	}
}

// pushData queues a buffer holding one data frame and counts it.
func (c *Conn) pushData(b *[]byte, k kind) {
	c.push(queued{buf: b, kind: k, frames: 1})
	c.queued++
	c.addQueued(len(*b))
}

// pushFront queues f at the next frame boundary: never inside a frame
// already on its way, never before the preface.
func (c *Conn) pushFront(f queued) {
	at := 0
	if c.qoff > 0 || len(c.q) > 0 && c.q[0].kind == kindPreface {
		at = 1
	}
	c.push(queued{})
	copy(c.q[at+1:], c.q[at:])
	c.q[at] = f
}

// Preface queues b (the handshake's answer) ahead of every frame; control
// frames never overtake it. b goes back to the Pool once written.
func (c *Conn) Preface(b *[]byte) {
	c.pushFront(queued{buf: b, kind: kindPreface})
}

// dropData discards every queued frame but the one on its way (it must
// end whole) and the preface, and counts the data frames among them as
// undelivered.
func (c *Conn) dropData() {
	keep := 0
	if c.qoff > 0 || len(c.q) > 0 && c.q[0].kind == kindPreface {
		keep = 1
	}
	if keep > len(c.q) {
		keep = len(c.q)
	}
	dropped := c.queued
	for _, f := range c.q[keep:] {
		if f.isData() {
			c.addQueued(-len(*f.buf))
		}
		c.release(f)
	}
	clear(c.q[keep:])
	c.q = c.q[:keep]
	c.queued, c.pong = 0, nil
	if keep == 1 && c.q[0].isData() {
		c.queued = int32(c.q[0].frames)
	}
	c.counters.Undelivered += uint64(dropped - c.queued)
	if len(c.q) == 0 {
		c.dropQueue()
	}
}

// releaseQueue frees every queued buffer, counting the data frames among
// them as undelivered: all but those of a buffer on its way that have
// left whole.
func (c *Conn) releaseQueue() {
	left := 0
	if c.qoff > 0 && c.q[0].isData() {
		left = framesWithin((*c.q[0].buf)[:c.qoff])
	}
	c.counters.Undelivered += uint64(int(c.queued) - left)
	for _, f := range c.q {
		c.release(f)
	}
	clear(c.q)
	c.addQueued(-int(c.qbytes))
	c.dropQueue()
	c.qoff, c.queued, c.pong = 0, 0, nil
}

// framesWithin counts the whole server frames at the start of b.
func framesWithin(b []byte) int {
	n := 0
	for {
		h, ok := parseHeader(b)
		if !ok || uint64(len(b)-h.size) < h.length {
			return n
		}
		b = b[h.size+int(h.length):]
		n++
	}
}
