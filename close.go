package dorrit

import (
	"context"
	"time"
)

// closeTimeout bounds Close: flushing the queue, then the client's answer
// to the close frame.
const closeTimeout = 5 * time.Second

// Close ends the connection gracefully: reading stops (a Read in progress
// returns ErrClosed), every queued frame is delivered, then the close frame
// with 1000, and the client's answer is awaited. Close returns when the
// connection is over; after 5 s for a client that does not read or answer,
// it closes the socket anyway and returns context.DeadlineExceeded.
// Calling Close again, or after the connection ended, returns nil.
func (c *MessageConn) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	return c.closeGracefully(ctx, StatusNormalClosure, "")
}

// CloseNow closes the socket at once; queued frames are dropped and no
// close frame is sent. It returns nil; calling it again does nothing.
func (c *MessageConn) CloseNow() error {
	c.stopReading()
	c.finish(&CloseError{Code: StatusAbnormalClosure, Reason: "closed by the server without a close frame"})
	return nil
}

// closeGracefully is Close with a code of the caller's choice and a bound
// set by ctx, which Listener.Shutdown shares among all its connections.
func (c *MessageConn) closeGracefully(ctx context.Context, code StatusCode, reason string) error {
	// Queue the close frame before waking a Read: the application's
	// goroutine, woken with ErrClosed, often calls Close on its way out,
	// and its 1000 must not overtake a Shutdown's 1001.
	queued := c.queueClose(code, reason)
	c.stopReading()
	if !queued {
		// A close is already on its way (ours or the answer to the
		// client's): wait for it within the same bound.
		select {
		case <-c.Done():
			return nil
		case <-ctx.Done():
			c.CloseNow()
			return ctx.Err()
		}
	}
	select {
	case <-c.closeSent:
	case <-c.Done():
		return nil
	case <-ctx.Done():
		c.CloseNow()
		return ctx.Err()
	}
	// The client answers our close frame with its own; whatever it still
	// sends before that is discarded, as the manual says.
	c.readMu.Lock()
	c.rd.detach()
	c.dlMu.Lock()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(closeTimeout)
	}
	c.nc.SetReadDeadline(deadline)
	c.dlMu.Unlock()
	for c.rd.err == nil {
		if _, err := c.readMessage(ctx); err != nil && c.rd.err == nil {
			break // the deadline passed
		}
	}
	c.releaseRead()
	c.readMu.Unlock()
	c.finish(&CloseError{Code: code, Reason: reason})
	return nil
}

// closeReceived answers the client's close frame (RFC 6455 §5.5.1): the
// queue is flushed, our close frame echoes the code, then the socket closes.
func (c *MessageConn) closeReceived(payload []byte) {
	code, reason, ok := parseClosePayload(payload)
	if !ok {
		if code != 0 && validWireCode(code) {
			c.fail(StatusInvalidPayload, dropBadUTF8, "close reason is not valid UTF-8")
		} else {
			c.fail(StatusProtocolError, dropProtocol, "invalid close frame")
		}
		return
	}
	ce := &CloseError{Code: code, Reason: reason, Remote: true}
	c.rd.err = ce
	c.wmu.Lock()
	c.peerClose = ce
	c.wmu.Unlock()
	if !c.queueClose(code, "") {
		// Our close frame went first: this is the answer, the handshake is done.
		select {
		case <-c.closeSent:
			go c.finish(ce)
		default: // ours is still queued; it ends the connection when it leaves
		}
		return
	}
}

// fail ends the connection because of what the client sent (RFC 6455 §7.1.7):
// queued frames are dropped, the close frame with code goes out if the
// socket takes it at once, and the socket closes.
func (c *MessageConn) fail(code StatusCode, drop dropReason, reason string) {
	c.ln.counters.drop(drop)
	ce := &CloseError{Code: code, Reason: reason}
	c.rd.err = ce
	c.wmu.Lock()
	if c.wstate == writeOpen {
		keep := 0
		if c.qoff > 0 {
			keep = 1 // the frame on its way must end whole
		}
		for _, f := range c.queue[keep:] {
			putBuf(f.buf)
		}
		clear(c.queue[keep:])
		c.queue = c.queue[:keep]
		c.queued, c.pong = 0, nil
		if keep == 1 && c.queue[0].kind == frameData {
			c.queued = 1
		}
	}
	c.wmu.Unlock()
	c.queueClose(code, reason)
	go c.finish(ce)
}

// closedErr is what Read returns once reading is over.
func (c *MessageConn) closedErr() error {
	if err := c.Err(); err != nil {
		return err
	}
	return ErrClosed
}
