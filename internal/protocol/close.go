package protocol

import (
	"encoding/binary"
	"strings"
	"unicode/utf8"
)

// Close starts the server's graceful close: the close frame with code and
// reason is queued behind every frame already queued, Write fails from now
// on, and what the client still sends is parsed (its pings no longer
// answered, its messages discarded uncounted) until its close frame
// answers ours. It reports false, and changes nothing, when a close was
// already under way. code must satisfy ValidCloseCode; the reason is cut to
// fit the frame at a character boundary, invalid UTF-8 replaced.
func (c *Conn) Close(code StatusCode, reason string) bool {
	if c.state != Open {
		return false
	}
	c.queueClose(CloseInfo{Code: code, Reason: reason})
	return true
}

// Drop ends the connection now, for a client the application gives up on:
// queued data frames are discarded (counted in Undelivered, but for the
// one on its way, which ends whole), and the close frame leaves at the
// next frame boundary. It counts DropApplication and reports false, doing
// nothing, when a close was already under way.
func (c *Conn) Drop(code StatusCode, reason string) bool {
	if c.state != Open {
		return false
	}
	c.countDrop(DropApplication)
	c.abort(CloseInfo{Code: code, Reason: reason})
	return true
}

// CloseNow ends the connection at once, whatever its state: every buffer
// goes back to the pool, queued data frames are counted in Undelivered, and
// it returns how many there were. The engine calls it last for every
// connection, when it closes the socket (a second call does nothing).
func (c *Conn) CloseNow() (undelivered int) {
	if c.state != Closed && c.why == nil {
		c.why = &CloseInfo{Code: StatusAbnormalClosure, Reason: "closed by the server without a close frame"}
	}
	before := c.counters.Undelivered
	c.setClosed()
	c.releaseQueue()
	undelivered = int(c.counters.Undelivered - before)
	c.stopParsing()
	c.releaseLent()
	return undelivered
}

// LingerExpired tells the core that the engine's linger time passed
// without the client's answer: it is counted, and the connection is
// Closed. The engine arms its timer when the close frame has left (Linger),
// or, after a failure or Drop, when the close frame was queued (Closing):
// a client that does not even read will not take the close frame either.
func (c *Conn) LingerExpired() {
	if c.state == Linger || c.state == Closing {
		c.counters.LingerExpired = 1
		c.setClosed()
	}
}

// setClosed moves to Closed; data frames still queued will not leave.
func (c *Conn) setClosed() {
	if c.state == Closed {
		return
	}
	c.state = Closed
	c.stopParsing()
	c.releaseQueue()
}

// abort discards the queue and queues the close frame with why.
func (c *Conn) abort(why CloseInfo) {
	c.dropData()
	c.queueClose(why)
}

// queueClose queues the close frame with why behind everything queued and
// refuses further Writes. A close frame that answers the client's
// (why.Remote) echoes its code without a reason; 1005 (no code) is
// answered with an empty close frame.
func (c *Conn) queueClose(why CloseInfo) {
	c.state = Closing
	c.why = &why
	c.pong = nil // nothing may be rewritten ahead of the close frame now
	b := c.cfg.Pool.Get(maxServerHeader + maxControlPayload)
	p := (*b)[maxServerHeader:maxServerHeader]
	if why.Code != StatusNoStatusRcvd {
		reason := why.Reason
		if why.Remote {
			reason = ""
		}
		p = closePayload(p, why.Code, reason)
	}
	hl := putHeader((*b)[:maxServerHeader], true, opClose, len(p))
	*b = append((*b)[:hl], p...)
	c.push(queued{buf: b, kind: kindClose})
}

// closeReceived answers the client's close frame (RFC 6455 §5.5.1). While
// Open, the queue is delivered and the server's close frame echoes the
// code behind it; the connection is Closed once that has left. If the
// server's close frame went first, this is its answer: Closed at once, or
// once ours has left.
func (c *Conn) closeReceived(payload []byte) Event {
	code, reason, v := parseClosePayload(payload)
	if v != nil {
		return c.fail(v)
	}
	c.peerClosed = true
	c.stopParsing()
	ev := Event{Kind: PeerClose, Code: code, Reason: reason}
	switch c.state {
	case Open:
		c.queueClose(CloseInfo{Code: code, Reason: reason, Remote: true})
	case Linger:
		c.setClosed()
	}
	return ev
}

// parseClosePayload checks a client's close frame payload (RFC 6455 §5.5.1, §7.4).
func parseClosePayload(p []byte) (code StatusCode, reason string, v *violation) {
	switch len(p) {
	case 0:
		return StatusNoStatusRcvd, "", nil
	case 1:
		return 0, "", &errBadClose
	}
	code = StatusCode(binary.BigEndian.Uint16(p))
	if !ValidCloseCode(code) {
		return code, "", &errBadClose
	}
	if !utf8.Valid(p[2:]) {
		return code, "", &errBadCloseUTF8
	}
	return code, string(p[2:]), nil
}

// closePayload appends a close frame payload to dst; the reason is cut to
// fit 125 bytes on a character boundary.
func closePayload(dst []byte, code StatusCode, reason string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(code))
	if !utf8.ValidString(reason) {
		reason = strings.ToValidUTF8(reason, "\uFFFD") // a browser fails the connection on invalid UTF-8
	}
	if len(reason) > maxControlPayload-2 {
		reason = reason[:maxControlPayload-2]
		for len(reason) > 0 && !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	return append(dst, reason...)
}
