package protocol

// queuePong answers a ping at the next frame boundary, ahead of queued
// data. Only the newest unanswered ping gets its pong (RFC 6455 §5.5.3): a
// pong not yet on its way is rewritten with the newer payload, so a client
// that pings and never reads cannot grow the queue. Once a close frame is
// queued nothing more is answered: nothing may follow the close frame, and
// a pong ahead of it would overtake data the close must follow.
func (c *Conn) queuePong(payload []byte) {
	if c.state != Open {
		return
	}
	if c.pong != nil && !(c.qoff > 0 && c.q[0].buf == c.pong) {
		*c.pong = appendFrame((*c.pong)[:0], true, opPong, payload)
		return
	}
	b := c.cfg.Pool.Get(maxServerHeader + maxControlPayload) // room for any later payload
	*b = appendFrame(*b, true, opPong, payload)
	c.pong = b
	c.pushFront(queued{buf: b, kind: kindControl})
}

// queuePing sends a keepalive ping with an empty payload, ahead of queued
// data like a pong.
func (c *Conn) queuePing() {
	b := c.cfg.Pool.Get(maxServerHeader)
	*b = appendFrame(*b, true, opPing, nil)
	c.pushFront(queued{buf: b, kind: kindControl})
}
