package dorrit

import (
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/dorritgo/dorrit/internal/protocol"
)

// A PreparedMessage is a text message framed once for many connections: a
// broadcast. WritePrepared queues the same read-only frames on every
// connection instead of copying the message into each queue, so sending it
// to N connections allocates nothing per connection. It is safe for
// concurrent use; the caller may reuse the slice it was made from.
type PreparedMessage struct {
	msg   []byte
	valid bool // UTF-8, checked once here rather than once per connection

	// The frames depend on the connection's BufferSize (the fragment
	// size). One listener means one size, kept where every WritePrepared
	// reads it without a lock; other sizes are made under mu.
	first atomic.Pointer[preparedFrames]
	mu    sync.Mutex
	more  []*preparedFrames
}

type preparedFrames struct {
	maxPayload int
	frames     []*[]byte
}

// NewPreparedMessage copies msg; it is framed on first use. A msg that is
// not valid UTF-8 makes every WritePrepared of it fail with ErrInvalidUTF8.
func NewPreparedMessage(msg []byte) *PreparedMessage {
	return &PreparedMessage{msg: append([]byte(nil), msg...), valid: utf8.Valid(msg)}
}

// WritePrepared queues pm like Write queues a message, with every rule of
// Write: it never blocks, a message over BufferSize-5 leaves as fragments
// that each count among the 200 queued frames, and it fails with
// ErrInvalidUTF8, ErrQueueFull (nothing queued before is lost),
// ErrMessageTooLarge or, once a close has begun, the *CloseError.
func (c *MessageConn) WritePrepared(pm *PreparedMessage) error {
	if !pm.valid {
		return ErrInvalidUTF8
	}
	frames := pm.framesFor(c.maxPayload)
	if len(frames) > MaxQueuedFrames {
		return ErrMessageTooLarge
	}
	c.wmu.Lock()
	if err := c.admit(len(pm.msg), len(frames)); err != nil {
		c.wmu.Unlock()
		return err
	}
	for _, b := range frames {
		c.push(outFrame{buf: b, kind: frameShared, frames: 1})
		c.queued++
		c.addQueued(len(*b))
	}
	c.flushUnlessCorked()
	c.wmu.Unlock()
	return nil
}

// framesFor returns pm's frames for fragments of at most maxPayload bytes.
func (pm *PreparedMessage) framesFor(maxPayload int) []*[]byte {
	if f := pm.first.Load(); f != nil && f.maxPayload == maxPayload {
		return f.frames
	}
	pm.mu.Lock()
	defer pm.mu.Unlock()
	if f := pm.first.Load(); f == nil {
		f = &preparedFrames{maxPayload, frame(pm.msg, maxPayload)}
		pm.first.Store(f)
		return f.frames
	} else if f.maxPayload == maxPayload {
		return f.frames
	}
	for _, f := range pm.more {
		if f.maxPayload == maxPayload {
			return f.frames
		}
	}
	f := &preparedFrames{maxPayload, frame(pm.msg, maxPayload)}
	pm.more = append(pm.more, f)
	return f.frames
}

// frame encodes msg as text frames of at most maxPayload bytes each.
func frame(msg []byte, maxPayload int) []*[]byte {
	var frames []*[]byte
	op := byte(protocol.OpText)
	for {
		n := min(len(msg), maxPayload)
		fin := n == len(msg)
		b := make([]byte, protocol.MaxServerHeader, protocol.MaxServerHeader+n)
		hl := protocol.PutHeader(b, fin, op, n)
		b = append(b[:hl], msg[:n]...)
		frames = append(frames, &b)
		if fin {
			return frames
		}
		msg, op = msg[n:], protocol.OpContinuation
	}
}
