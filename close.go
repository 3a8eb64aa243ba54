package dorrit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"sync/atomic"
	"time"

	"github.com/dorritgo/dorrit/internal/protocol"
)

// closeStall is how long a graceful close waits while the socket takes no
// bytes at all: a client that reads nothing for that long will not read the
// rest either. A close whose bytes still move has no time limit of its own;
// only the caller's context bounds it (lifecycle's DrainTimeout, say).
// Tests shorten it, hence the atomic.
var closeStallNanos atomic.Int64

func init() { closeStallNanos.Store(int64(5 * time.Second)) }

func closeStall() time.Duration { return time.Duration(closeStallNanos.Load()) }

// A server that closes while the client is still sending must not close
// its socket at once (RFC 6455 §7.1.1; HTTP servers call it a lingering
// close): a socket closed with unread bytes is reset, and a front server
// whose write fails drops both sides without forwarding the close frame it
// already read (nginx forwarded 1009 in 2 to 8 of 10 tries). Instead, once
// the close frame has left, the server shuts its write side, so that the
// end of stream follows the close frame, and reads what the client still
// sends (the core discards it) until the client's close frame or end of
// stream, protocol.LingerBytes, or lingerTime, whichever comes first; only
// then does the socket close and the slot free up.
const lingerTime = 2 * time.Second

// Close ends the connection gracefully with 1000: reading stops (a Read in
// progress returns an error matching ErrClosed), every queued frame is
// delivered, then the close frame; then the write side is shut and what
// the client still sends is discarded until its answer or end of stream,
// for at most 2 s (the lingering close below).
//
// Close takes as long as the client keeps reading; it gives up only when
// the socket has taken no bytes for 5 s, and then closes the socket.
//
// Close returns nil when every queued frame and the close frame were
// delivered, and when the connection had already ended (so a second Close
// returns nil). It returns a *DeliveryError that says how many queued
// frames were lost when it gave up (errors.Is(err, ErrStalled) holds; the
// frames are counted in Stats.Undelivered), and the connection's
// *CloseError when the connection ended otherwise while Close waited (the
// client vanished, CloseNow from another goroutine). CloseWith is Close
// with the application's code and reason, bounded by a context.
func (c *MessageConn) Close() error {
	return c.closeGracefully(context.Background(), &CloseError{Code: StatusNormalClosure})
}

// CloseWith is Close with the application's close code and reason, which
// the client reads after every queued frame (a reason over the frame's 123
// bytes is cut at a character boundary, invalid UTF-8 replaced),
// and bounded by ctx as well: when ctx ends first the socket is closed, and
// if queued frames were still waiting a *DeliveryError wrapping ctx.Err()
// tells how many. It returns nil when ctx ends while only the client's
// answer to the close frame is awaited.
//
// code must be one a server may send (1000-1003, 1007-1014, 3000-4999);
// another returns an error matching ErrBadCloseCode and changes nothing.
func (c *MessageConn) CloseWith(ctx context.Context, code StatusCode, reason string) error {
	if err := checkClose(code); err != nil {
		return err
	}
	return c.closeGracefully(ctx, &CloseError{Code: code, Reason: reason})
}

// CloseNow closes the socket at once; queued frames are dropped (counted in
// Stats.Undelivered) and no close frame is sent. It returns nil; calling it
// again does nothing.
func (c *MessageConn) CloseNow() error {
	c.mu.Lock()
	c.stopReading()
	c.finish(&CloseError{Code: StatusAbnormalClosure, Reason: "closed by the server without a close frame"})
	c.unlock()
	return nil
}

// closeGracefully is Close with a code of the caller's choice; Listener.Shutdown
// shares its ctx among all its connections.
func (c *MessageConn) closeGracefully(ctx context.Context, why *CloseError) error {
	if c.end.Load() != nil {
		return nil
	}
	if why.Code == StatusNormalClosure && isClosed(c.ln.draining) {
		// The handler's Close on its way out of a Shutdown: the client
		// hears that the server goes away, whoever's close leaves first.
		why = shuttingDown()
	}
	// Queue the close frame before waking a Read: the application's
	// goroutine, woken with ErrClosed, often calls Close on its way out,
	// and its 1000 must not overtake a Shutdown's 1001.
	c.mu.Lock()
	queued := c.core.Close(protocol.StatusCode(why.Code), why.Reason)
	c.answered = true
	c.stopReading()
	c.drive()
	c.wakeWaiters() // WriteContext learns that the connection is closing
	c.unlock()
	if err := c.awaitDelivery(ctx); err != nil {
		return err
	}
	if !queued {
		// A close was already on its way (ours or the answer to the
		// client's): whoever queued it ends the connection.
		return c.awaitEnd(ctx)
	}
	// The client answers our close frame with its own; whatever it still
	// sends before that is discarded, as the manual says. The frames are
	// parsed, so that its close frame ends the wait at once.
	deadline := time.Now().Add(lingerTime)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c.lingerRead(ctx, deadline)
	return nil
}

// lingerRead reads what the client sends after the server's close frame
// left, until the core is Closed (the client's close frame or end of
// stream, LingerBytes) or deadline, and ends the connection. It waits for
// a Read in progress to return first (stopReading woke it).
func (c *MessageConn) lingerRead(ctx context.Context, deadline time.Time) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	c.mu.Lock()
	// The application may still hold the message Read returned last: the
	// core and the read buffer let it go instead of reusing it.
	c.core.DetachMessage()
	if c.rbuf != nil {
		nb := getBuf(max(len(*c.rbuf)-int(c.rr), readChunk))
		*nb = append(*nb, (*c.rbuf)[c.rr:]...)
		c.rbuf, c.rr = nb, 0
	}
	c.readClosed = true
	if c.end.Load() == nil {
		c.nc.SetReadDeadline(deadline)
	}
	c.mu.Unlock()
	for {
		c.mu.Lock()
		if c.end.Load() != nil {
			c.mu.Unlock()
			break
		}
		if c.rbuf != nil && int(c.rr) < len(*c.rbuf) {
			c.receive()
			c.unlock()
			continue
		}
		c.mu.Unlock()
		if c.rbuf != nil {
			putBuf(c.rbuf)
			c.rbuf, c.rr = nil, 0
		}
		err := c.raw.Read(c.readFn)
		if err == nil {
			err = c.rerr
		}
		if err == nil && c.rn > 0 {
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil && c.lingerGoesOn(deadline) {
			continue
		}
		c.mu.Lock()
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil:
			c.core.LingerExpired()
		case errors.Is(err, os.ErrDeadlineExceeded): // the caller's ctx ended
		default: // end of stream, a reset, or CloseNow
			c.core.ReceiveEOF()
		}
		c.finish(c.closeError())
		c.unlock()
		break
	}
	c.releaseRead()
}

// shuttingDown is why Shutdown closes a connection.
func shuttingDown() *CloseError {
	return &CloseError{Code: StatusGoingAway, Reason: "server shutting down"}
}

// handlerWait bounds how long Shutdown waits for a handler to answer the
// message it holds: answers take microseconds to milliseconds (a Redis
// round trip), and a handler that calls Shutdown itself while it holds a
// message is waited for in vain, so the bound is short.
const handlerWait = time.Second

// awaitHandler is Shutdown's first step on one connection: reading stops
// (a Read waiting returns the 1001 CloseError, and so do later ones), and
// if the handler holds a message Read gave it, Shutdown waits until the
// handler comes back to Read or closes, so that the answers it writes go
// out before the close frame (otherwise its Write fails with ErrClosed:
// TestShutdownLetsTheHandlerAnswerWhatItRead). The wait takes at most
// handlerWait and half of what is left of ctx, which the close needs too:
// a handler busy elsewhere loses its answer, as before.
func (c *MessageConn) awaitHandler(ctx context.Context) {
	c.mu.Lock()
	c.stopReading()
	c.mu.Unlock()
	wait := handlerWait
	if d, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(d)/2)
	}
	deadline := time.Now().Add(wait)
	for c.holdsMessage() && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(time.Millisecond) // only while a handler answers: a moment
	}
}

// holdsMessage reports whether the handler still has a message Read gave
// it, and nothing has closed the connection since.
func (c *MessageConn) holdsMessage() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.given && c.core.State() == protocol.Open && c.end.Load() == nil
}

// awaitDelivery waits until the queued close frame has left, the
// connection ended, ctx ended, or the socket took no bytes for closeStall.
// In the last two cases it closes the socket and reports what was lost.
func (c *MessageConn) awaitDelivery(ctx context.Context) error {
	stall := closeStall()
	check := time.NewTicker(stall / 10)
	defer check.Stop()
	left, lastMove := -1, time.Now()
	for {
		c.mu.Lock()
		if c.end.Load() != nil {
			sent := c.closeLeft
			c.mu.Unlock()
			if sent {
				return nil
			}
			return c.Err() // ended otherwise: CloseNow, the client gone
		}
		if st := c.core.State(); st == protocol.Linger || st == protocol.Closed {
			c.mu.Unlock()
			return nil
		}
		if left < 0 {
			left = c.core.Unsent()
		}
		wake := c.wakeChan()
		c.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return c.giveUp(ctx.Err())
		case now := <-check.C:
			c.mu.Lock()
			n := c.core.Unsent()
			c.mu.Unlock()
			if n != left {
				left, lastMove = n, now
			} else if now.Sub(lastMove) >= stall {
				return c.giveUp(ErrStalled)
			}
		}
	}
}

// awaitEnd waits for a close that someone else started, within ctx.
func (c *MessageConn) awaitEnd(ctx context.Context) error {
	select {
	case <-c.Done():
		return nil
	case <-ctx.Done():
		return c.giveUp(ctx.Err())
	}
}

// giveUp ends a graceful close that cannot finish: the socket closes now.
func (c *MessageConn) giveUp(cause error) error {
	c.mu.Lock()
	c.stopReading()
	lost, ours := c.finish(&CloseError{Code: StatusAbnormalClosure, Reason: "graceful close gave up: " + cause.Error()})
	c.unlock()
	if !ours {
		return c.Err() // someone else ended it meanwhile
	}
	if lost == 0 {
		return nil // only the client's answer was missing
	}
	return &DeliveryError{Undelivered: lost, Err: cause}
}

// Drop ends the connection now, for a client the application gives up on
// (too slow for a live feed, misbehaving): frames still queued are
// discarded (counted in Stats.Undelivered), the close frame with code and
// reason leaves at the next frame boundary, and the connection lingers as a
// failed one does (at most 2 s) before the socket closes. A Read in
// progress and later ones return the *CloseError; so do Writes. It is
// counted in Stats.Dropped.Application.
//
// code must be one a server may send (1000-1003, 1007-1014, 3000-4999);
// another returns ErrBadCloseCode and changes nothing. Drop returns nil,
// also when a close was already under way (which it leaves as it is).
func (c *MessageConn) Drop(code StatusCode, reason string) error {
	if err := checkClose(code); err != nil {
		return err
	}
	c.mu.Lock()
	c.stopReading()
	if c.core.Drop(protocol.StatusCode(code), reason) {
		c.answered = true
		c.startLinger()
	}
	c.drive()
	c.wakeWaiters()
	c.unlock()
	return nil
}

// checkClose refuses a close code a server may not send. (A reason that
// does not fit the frame is cut by the core instead.)
func checkClose(code StatusCode) error {
	if code < 0 || code > math.MaxUint16 || !protocol.ValidCloseCode(protocol.StatusCode(code)) {
		return fmt.Errorf("%w: %d (a server may send 1000-1003, 1007-1014, 3000-4999)", ErrBadCloseCode, code)
	}
	return nil
}

// startLinger starts the goroutine that ends a connection the core failed
// (or Drop ended): once the close frame has left it reads out the linger,
// and if the client does not even take the close frame within lingerTime
// it gives up. mu is held.
func (c *MessageConn) startLinger() {
	if !c.lingering {
		c.lingering = true
		go c.linger()
	}
}

// linger is startLinger's goroutine.
func (c *MessageConn) linger() {
	deadline := time.Now().Add(lingerTime)
	wait := time.NewTimer(lingerTime)
	defer wait.Stop()
	for {
		c.mu.Lock()
		if c.end.Load() != nil {
			c.mu.Unlock()
			return
		}
		if c.core.State() != protocol.Closing {
			c.mu.Unlock()
			break
		}
		wake := c.wakeChan()
		c.mu.Unlock()
		select {
		case <-wake:
		case <-wait.C: // the client does not even read
			c.mu.Lock()
			c.core.LingerExpired()
			c.drive()
			c.unlock()
			return
		}
	}
	c.lingerRead(context.Background(), deadline)
}

// lingerGoesOn is asked when a lingering read hit its deadline: if the
// real one, deadline, has not come yet, another Close (the handler's, on
// its way out) set a past one to stop reading; this reading must go on, so
// the deadline is put back and it reports true.
func (c *MessageConn) lingerGoesOn(deadline time.Time) bool {
	if !time.Now().Before(deadline) {
		return false
	}
	c.mu.Lock()
	if c.end.Load() == nil {
		c.nc.SetReadDeadline(deadline)
	}
	c.mu.Unlock()
	return true
}

// closedErr is what Read and Write return once the connection is closing or
// over: why it ended, or why it is closing, as a *CloseError. mu is held.
func (c *MessageConn) closedErr() error {
	if err := c.Err(); err != nil {
		return err
	}
	if c.core.State() != protocol.Open {
		return c.closeError()
	}
	if isClosed(c.ln.draining) {
		return shuttingDown() // Shutdown stopped reading; its close follows
	}
	return ErrClosed
}
