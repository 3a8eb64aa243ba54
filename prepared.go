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
	first atomic.Pointer[protocol.Prepared]
	mu    sync.Mutex
	more  []*protocol.Prepared
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
	p := pm.framesFor(c.core.MaxPayload()) // fixed for the connection's life: no lock
	c.mu.Lock()
	err := c.core.WritePrepared(p)
	if err == nil {
		c.flushUnlessCorked()
	} else {
		err = c.writeErr(err)
	}
	c.unlock()
	return err
}

// framesFor returns pm framed for fragments of at most maxPayload bytes.
func (pm *PreparedMessage) framesFor(maxPayload int) *protocol.Prepared {
	if f := pm.first.Load(); f != nil && f.MaxPayload() == maxPayload {
		return f
	}
	pm.mu.Lock()
	defer pm.mu.Unlock()
	if f := pm.first.Load(); f == nil {
		f = protocol.Prepare(pm.msg, maxPayload)
		pm.first.Store(f)
		return f
	} else if f.MaxPayload() == maxPayload {
		return f
	}
	for _, f := range pm.more {
		if f.MaxPayload() == maxPayload {
			return f
		}
	}
	f := protocol.Prepare(pm.msg, maxPayload)
	pm.more = append(pm.more, f)
	return f
}
