package protocol

// Keepalive: a client silent for PingAfter ticks is pinged, and one that
// then stays silent for PongWithin ticks is overdue. The core keeps no
// clock: the engine calls Tick on every connection at a steady period
// (its sweep, or its loop's timer) with a tick count, and Receive notes
// that bytes arrived. Any byte from the client (a pong, a message, its
// own ping) counts as the answer.

// Tick advances the keepalive to now, a count of the engine's ticks (it
// may wrap). It queues a ping when the client has been silent for
// PingAfter ticks, and reports overdue when a ping has waited PongWithin
// ticks for an answer: the engine then calls TimeOut, unless it knows the
// client's bytes wait unread in the socket (an application that stopped
// reading), in which case it calls Heard.
func (c *Conn) Tick(now uint32) (overdue bool) {
	if c.heard {
		// The bytes came since the previous tick.
		c.heard, c.lastHeard, c.pinged = false, now-1, false
	}
	if c.cfg.PingAfter == 0 || c.state != Open {
		return false
	}
	switch {
	case !c.pinged:
		if now-c.lastHeard >= c.cfg.PingAfter { // unsigned: right across a wrap
			c.pinged, c.pingedAt = true, now
			c.queuePing()
		}
	case now-c.pingedAt >= c.cfg.PongWithin:
		return true
	}
	return false
}

// Heard counts as bytes from the client: the engine saw some waiting
// unread in the socket.
func (c *Conn) Heard() { c.heard = true }

// TimeOut ends a connection whose client answered no ping: it counts
// DropPongTimeout, drops the queued data (the client reads nothing), queues
// the close frame with 1001 and moves to Closed at once. The engine writes
// what Output returns if the socket takes it without waiting, then closes
// the socket and calls CloseNow. It reports false when a close was already
// under way.
func (c *Conn) TimeOut() bool {
	if c.state != Open {
		return false
	}
	c.countDrop(DropPongTimeout)
	c.abort(CloseInfo{Code: StatusGoingAway, Reason: "pong timeout: the client answered no ping"})
	c.state = Closed
	c.stopParsing()
	return true
}
