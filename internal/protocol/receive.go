package protocol

// EventKind says what an Event reports.
type EventKind uint8

const (
	// None: the bytes given are taken and complete nothing yet.
	None EventKind = iota
	// Message: a complete text message; Event.Message holds its payload.
	Message
	// PeerClose: the client's close frame (Code, Reason). The core has
	// queued the answer, or it completes the server's own close.
	PeerClose
	// Violation: the client broke a rule (Code, Reason, Drop); the
	// connection fails with that close code.
	Violation
	// Hangup: the client's stream ended without a close frame (1006);
	// the connection is Closed.
	Hangup
)

// An Event is what the client's bytes completed. Message, when set, is
// valid until the next call on the Conn: it points into the bytes given
// to Receive (a message that arrived whole in one read is not copied) or
// into a pooled buffer the next call takes back (see DetachMessage).
type Event struct {
	Kind    EventKind
	Message []byte
	Code    StatusCode
	Reason  string
	Drop    Drop
}

// Receive takes bytes read from the socket. It returns how many of p it
// took and the event they completed; the engine calls it again with the
// rest until it has taken all of p. It unmasks p in place. Bytes of a frame
// that p holds only in part are kept by the core (in a pooled buffer, or
// the header in the Conn itself), so the engine may reuse p for its next
// read once Receive has taken it all and the last event is consumed.
//
// Pings are answered (see Output), pongs absorbed; any bytes count as the
// client's answer to a keepalive ping. After a violation or the client's
// close frame, and once Closed, bytes are taken and discarded.
func (c *Conn) Receive(p []byte) (n int, ev Event) {
	c.releaseLent()
	if len(p) > 0 {
		c.heard = true
	}
	if c.state == Linger {
		c.lingered += int32(min(len(p), LingerBytes+1))
		if c.lingered > LingerBytes {
			c.LingerExpired()
			return len(p), Event{}
		}
	}
	for n < len(p) {
		if c.discard || c.state == Closed {
			return len(p), Event{}
		}
		if !c.haveHeader {
			h, used, ok := c.takeHeader(p[n:])
			n += used
			if !ok {
				return n, Event{}
			}
			if v := c.checkHeader(h); v != nil {
				return n, c.fail(v)
			}
			c.haveHeader, c.frameFin, c.frameOp = true, h.fin, h.opcode
			c.frameLen, c.frameKey, c.frameDone = uint32(h.length), h.key, 0 // checkHeader bounded the length
			switch h.opcode {
			case opText:
				c.utf8.reset()
				c.fragments = 1
			case opContinuation:
				c.fragments++
			}
		}
		used, ev, complete := c.takePayload(p[n:])
		n += used
		if ev.Kind != None || !complete {
			return n, ev
		}
	}
	return n, Event{}
}

// takeHeader parses the next frame header from p, completing one that
// arrived in pieces; used is how many bytes of p it took.
func (c *Conn) takeHeader(p []byte) (h header, used int, ok bool) {
	if c.spillN == 0 && len(p) >= maxHeaderLen {
		h, _ = parseHeader(p)
		return h, h.size, true
	}
	had := int(c.spillN)
	k := copy(c.spill[had:], p)
	h, ok = parseHeader(c.spill[:had+k])
	if !ok {
		c.spillN += uint8(k) // k is all of p: the header is still short
		return h, k, false
	}
	c.spillN = 0
	return h, h.size - had, true
}

// takePayload takes what p holds of the current frame's payload. complete
// says the frame ended; ev is what it completed.
func (c *Conn) takePayload(p []byte) (used int, ev Event, complete bool) {
	length, done, op, fin := int(c.frameLen), int(c.frameDone), c.frameOp, c.frameFin
	take := min(len(p), length-done)
	if take == 0 && length > 0 {
		return 0, Event{}, false // the header ended p
	}
	chunk := p[:take]
	mask(c.frameKey, done, chunk)
	whole := done == 0 && take == length // the frame's payload is all in p
	if isControl(op) {
		if !whole {
			c.ctrl = c.appendTo(c.ctrl, chunk, maxControlPayload)
		}
	} else {
		if !c.utf8.check(chunk) {
			return take, c.fail(&errBadUTF8), false
		}
		// A message that arrives whole in p is handed out from p; any
		// other is assembled in a buffer with room for what may follow.
		if !whole || !fin || c.inMessage {
			more := length - done
			if !fin || c.inMessage {
				more = int(c.maxPayload) - lenOf(c.msg)
			}
			c.msg = c.appendTo(c.msg, chunk, more)
		}
	}
	c.frameDone += uint32(take)
	if done+take < length {
		return take, Event{}, false
	}
	c.haveHeader = false
	switch op {
	case opPing, opPong, opClose:
		payload := chunk
		if c.ctrl != nil {
			payload = *c.ctrl
		}
		switch op {
		case opPing:
			c.queuePong(payload)
		case opClose:
			ev = c.closeReceived(payload)
		}
		c.dropCtrl()
		return take, ev, true
	}
	if fin && !c.utf8.complete() {
		return take, c.fail(&errCutUTF8), true
	}
	if !fin {
		c.inMessage = true
		return take, Event{}, true
	}
	payload := chunk
	if c.msg != nil {
		payload, c.lent, c.msg = *c.msg, c.msg, nil
	}
	c.inMessage = false
	return take, c.message(payload), true
}

// appendTo appends chunk to *b, borrowing a buffer with room for more
// bytes when b is nil or full; the old one goes back to the pool.
func (c *Conn) appendTo(b *[]byte, chunk []byte, more int) *[]byte {
	if b == nil || cap(*b)-len(*b) < len(chunk) {
		nb := c.cfg.Pool.Get(max(len(chunk), more) + lenOf(b))
		if b != nil {
			*nb = append(*nb, *b...)
			c.cfg.Pool.Put(b)
		}
		b = nb
	}
	*b = append(*b, chunk...)
	return b
}

func lenOf(b *[]byte) int {
	if b == nil {
		return 0
	}
	return len(*b)
}

// message is the event of a complete text message. What the client sends
// once the server's close is under way is discarded uncounted.
func (c *Conn) message(payload []byte) Event {
	if c.state != Open {
		return Event{}
	}
	c.counters.MessagesIn++
	c.counters.BytesIn += uint64(len(payload))
	return Event{Kind: Message, Message: payload}
}

func (c *Conn) dropCtrl() {
	if c.ctrl != nil {
		c.cfg.Pool.Put(c.ctrl)
		c.ctrl = nil
	}
}

// releaseLent takes back the buffer of the last Message event.
func (c *Conn) releaseLent() {
	if c.lent != nil {
		c.cfg.Pool.Put(c.lent)
		c.lent = nil
	}
}

// DetachMessage lets the engine keep the last Message event's payload past
// the next call: the core forgets its buffer instead of reusing it (the GC
// takes it). The goroutine engine needs it when a close goes on reading
// while the application still holds the message Read returned.
func (c *Conn) DetachMessage() { c.lent = nil }

// stopParsing makes Receive discard everything from now on.
func (c *Conn) stopParsing() {
	c.discard = true
	c.haveHeader, c.inMessage, c.spillN = false, false, 0
	if c.msg != nil {
		c.cfg.Pool.Put(c.msg)
		c.msg = nil
	}
	c.dropCtrl()
}

// ReceiveEOF tells the core that the client's stream ended. In Linger
// that is the client's answer, and the connection is Closed. Before the
// client's close frame it is a hangup: the event says so (1006), queued
// frames are dropped and the connection is Closed.
func (c *Conn) ReceiveEOF() Event {
	c.releaseLent()
	switch {
	case c.state == Closed:
		return Event{}
	case c.state == Linger, c.peerClosed:
		c.setClosed()
		return Event{}
	}
	c.why = &CloseInfo{Code: StatusAbnormalClosure, Reason: "client hung up without a close frame", Remote: true}
	c.stopParsing()
	c.setClosed()
	return Event{Kind: Hangup, Code: c.why.Code, Reason: c.why.Reason}
}
