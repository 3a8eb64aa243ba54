package protocol

import "unicode/utf8"

// Write queues msg as one text message: it is copied, so the caller may
// reuse it. A message longer than MaxPayload is cut into fragments of
// MaxPayload bytes, each a data frame of its own; frames of other
// connections' messages (and this connection's pongs) may leave between
// them. An empty msg is sent as an empty message (RFC 6455 allows it).
//
// Write refuses, with nothing queued: ErrInvalidUTF8 for a msg that is not
// valid UTF-8; ErrMessageTooLarge for one that needs more than
// MaxQueuedFrames fragments; ErrQueueFull when its frames would take the
// queue past MaxQueuedFrames data frames or the Budget says no (nothing
// queued before is lost); ErrClosing once a close frame is queued.
func (c *Conn) Write(msg []byte) error {
	if err := c.admitMessage(msg); err != nil {
		return err
	}
	c.enqueue(msg)
	return nil
}

// admitMessage applies Write's checks to msg and counts it when it may go.
func (c *Conn) admitMessage(msg []byte) error {
	if !utf8.Valid(msg) {
		return ErrInvalidUTF8
	}
	frames := framesOf(len(msg), int(c.maxPayload))
	if frames > MaxQueuedFrames {
		return ErrMessageTooLarge
	}
	return c.admit(len(msg), frames)
}

// admit decides whether a message of n bytes in frames frames may be
// queued, and counts it: the close state, the 200-frame bound, then the
// Budget.
func (c *Conn) admit(n, frames int) error {
	if c.state != Open {
		return ErrClosing
	}
	full := int(c.queued)+frames > MaxQueuedFrames
	if !full && c.cfg.Budget != nil && !c.cfg.Budget.Admit(int(c.qbytes), n) {
		full = true
		c.counters.QueueBudget++
	}
	if full {
		c.counters.QueueFull++
		return ErrQueueFull
	}
	c.counters.MessagesOut++
	c.counters.BytesOut += uint64(n)
	return nil
}

// Frames share buffers. An echo of pipelined 128-byte messages took a
// pooled buffer per answer and handed it back after the writev: sync.Pool's
// Get and Put were 7 % of the server's CPU time (perf, bench/'s 128 B
// workload), and every answer was an iovec of its own. So a frame goes at
// the end of the last queued data buffer when it fits (a 4 KiB frame takes
// the 16 KiB class, which so holds three), and while the engine says more
// small writes follow (Cork), a small frame starts a buffer with room for
// about 30 of them.
const (
	smallFrame = 256 - maxServerHeader // payloads up to this are small
	batchBuf   = 4 << 10
)

// Cork tells the core whether more small writes are on their way (the
// goroutine engine: Read has more messages buffered, whose answers will
// follow). It only sizes buffers: when to write stays the engine's choice.
func (c *Conn) Cork(more bool) { c.batching = more }

// enqueue encodes msg as frames of at most MaxPayload bytes.
func (c *Conn) enqueue(msg []byte) {
	op := byte(opText)
	for {
		n := min(len(msg), int(c.maxPayload))
		fin := n == len(msg)
		if !c.appendToLast(fin, op, msg[:n]) {
			size := maxServerHeader + n
			if n <= smallFrame && c.batching {
				size = batchBuf
			}
			b := c.cfg.Pool.Get(size)
			*b = appendFrame(*b, fin, op, msg[:n])
			c.pushData(b, kindData)
		}
		if fin {
			return
		}
		msg, op = msg[n:], opContinuation
	}
}

// appendToLast writes the frame at the end of the queue's last buffer if
// that holds this connection's data frames and has room, and counts it.
// Output's slices of that buffer stay valid: they end where the buffer
// ended, and appending only writes beyond.
func (c *Conn) appendToLast(fin bool, op byte, payload []byte) bool {
	if len(c.q) == 0 {
		return false
	}
	last := &c.q[len(c.q)-1]
	b := last.buf
	if last.kind != kindData || last.frames == 255 || cap(*b)-len(*b) < maxServerHeader+len(payload) {
		return false
	}
	at := len(*b)
	*b = appendFrame(*b, fin, op, payload)
	last.frames++
	c.queued++
	c.addQueued(len(*b) - at)
	return true
}
