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
// end of stream follows the close frame, and reads and discards until the
// client's close frame or end of stream, or one of these bounds, whichever
// comes first; only then does the socket close and the slot free up.
const (
	lingerTime  = 2 * time.Second
	lingerBytes = 1 << 20 // the rest of a 64 KiB frame and what the buffers hold, many times over
)

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
	c.stopReading()
	c.finish(&CloseError{Code: StatusAbnormalClosure, Reason: "closed by the server without a close frame"})
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
	queued := c.queueClose(why)
	c.stopReading()
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
	c.nc.CloseWrite()
	c.readMu.Lock()
	c.rd.detach()
	c.dlMu.Lock()
	deadline := time.Now().Add(lingerTime)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c.nc.SetReadDeadline(deadline)
	c.dlMu.Unlock()
	c.rd.afterClose = true
	for c.rd.err == nil {
		_, err := c.readMessage(ctx)
		if err == nil || c.rd.err != nil {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		if c.lingerGoesOn(deadline) {
			continue
		}
		c.ln.counters.lingerExpired.Add(1)
		break
	}
	c.releaseRead()
	c.readMu.Unlock()
	c.finish(why)
	return nil
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
	c.stopReading()
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
	c.wmu.Lock()
	open := c.wstate == writeOpen
	c.wmu.Unlock()
	if !open {
		return false // a close is under way; it may linger with readMu
	}
	// A Read in progress has been woken by stopReading and returns soon;
	// once it has, given says whether it returned a message.
	c.readMu.Lock()
	defer c.readMu.Unlock()
	return c.rd.given
}

// awaitDelivery waits until the queued close frame has left, the
// connection ended, ctx ended, or the socket took no bytes for closeStall.
// In the last two cases it closes the socket and reports what was lost.
func (c *MessageConn) awaitDelivery(ctx context.Context) error {
	c.wmu.Lock()
	sent := c.closeSent
	c.wmu.Unlock()
	if sent == nil { // ended before any close frame was queued
		<-c.Done()
		return nil
	}
	stall := closeStall()
	check := time.NewTicker(stall / 10)
	defer check.Stop()
	left, lastMove := c.unsentBytes(), time.Now()
	for {
		select {
		case <-sent:
			return nil
		case <-c.Done():
			select {
			case <-sent:
				return nil
			default:
				return c.Err() // ended otherwise: CloseNow, the client gone
			}
		case <-ctx.Done():
			return c.giveUp(ctx.Err())
		case now := <-check.C:
			if n := c.unsentBytes(); n != left {
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

// unsentBytes is what the queue still holds; while a close waits it only
// shrinks, so any change is progress.
func (c *MessageConn) unsentBytes() int {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	n := -c.qoff
	for _, f := range c.queue {
		n += len(*f.buf)
	}
	return n
}

// giveUp ends a graceful close that cannot finish: the socket closes now.
func (c *MessageConn) giveUp(cause error) error {
	c.stopReading()
	lost, ours := c.finish(&CloseError{Code: StatusAbnormalClosure, Reason: "graceful close gave up: " + cause.Error()})
	if !ours {
		return c.Err() // someone else ended it meanwhile
	}
	if lost == 0 {
		return nil // only the client's answer was missing
	}
	return &DeliveryError{Undelivered: lost, Err: cause}
}

// closeReceived answers the client's close frame (RFC 6455 §5.5.1): the
// queue is flushed, our close frame echoes the code, then the socket closes.
func (c *MessageConn) closeReceived(payload []byte) {
	code, reason, failCode, drop, failReason := protocol.ParseClosePayload(payload)
	if drop != protocol.DropNone {
		c.fail(StatusCode(failCode), drop, failReason)
		return
	}
	ce := &CloseError{Code: StatusCode(code), Reason: reason, Remote: true}
	c.rd.err = ce
	if c.queueClose(ce) {
		return // our echo of the code ends the connection when it leaves
	}
	// Our close frame went first: this is the answer, the handshake is done.
	c.wmu.Lock()
	c.peerClosed = true
	sent, why := c.closeSent, c.closeWhy
	c.wmu.Unlock()
	select {
	case <-sent:
		go c.finish(why)
	default: // ours is still queued; it ends the connection when it leaves
	}
}

// fail ends the connection because of what the client sent (RFC 6455 §7.1.7):
// queued frames are dropped, the close frame with code goes out, and the
// socket closes after lingering.
func (c *MessageConn) fail(code StatusCode, drop dropReason, reason string) {
	c.ln.counters.drop(drop)
	ce := &CloseError{Code: code, Reason: reason}
	c.rd.err = ce
	c.abort(ce)
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
	ce := &CloseError{Code: code, Reason: reason}
	c.stopReading()
	if c.abort(ce) {
		c.ln.counters.drop(dropApplication)
	}
	return nil
}

// checkClose refuses a close code a server may not send. (A reason that
// does not fit the frame is cut instead: see protocol.AppendClosePayload.)
func checkClose(code StatusCode) error {
	if code < 0 || code > math.MaxUint16 || !protocol.ValidCloseCode(protocol.StatusCode(code)) {
		return fmt.Errorf("%w: %d (a server may send 1000-1003, 1007-1014, 3000-4999)", ErrBadCloseCode, code)
	}
	return nil
}

// abort discards the queue, queues the close frame with why and lingers.
// It reports false when a close was already under way.
func (c *MessageConn) abort(why *CloseError) bool {
	c.wmu.Lock()
	if c.wstate != writeOpen {
		c.wmu.Unlock()
		return false
	}
	keep := 0
	if c.qoff > 0 || len(c.queue) > 0 && c.queue[0].kind == frameAnswer {
		keep = 1 // the frame on its way must end whole (and its buffer: see appendToLast); the 101 must go first
	}
	dropped := c.queued
	for _, f := range c.queue[keep:] {
		if f.isData() {
			c.addQueued(-len(*f.buf))
		}
		f.release()
	}
	clear(c.queue[keep:])
	c.queue = c.queue[:keep]
	c.queued, c.pong = 0, nil
	if keep == 1 && c.queue[0].isData() {
		c.queued = int32(c.queue[0].frames)
	}
	c.ln.counters.undelivered.Add(uint64(dropped - c.queued))
	c.queueCloseLocked(why)
	c.wmu.Unlock()
	go c.linger(why)
	return true
}

// linger ends a connection that fail closed: what the client sends after
// the failure cannot be parsed (the rest of a refused frame, or garbage),
// so it is read raw into one small buffer and discarded, until end of
// stream or the bounds.
func (c *MessageConn) linger(why *CloseError) {
	c.wmu.Lock()
	sent := c.closeSent
	c.wmu.Unlock()
	start := time.Now()
	wait := time.NewTimer(lingerTime)
	defer wait.Stop()
	select {
	case <-sent:
	case <-c.Done():
		return
	case <-wait.C: // the client does not even read
		c.ln.counters.lingerExpired.Add(1)
		c.finish(why)
		return
	}
	c.nc.CloseWrite()

	c.readMu.Lock() // the Read that failed returns first
	deadline := start.Add(lingerTime)
	c.dlMu.Lock()
	c.readClosed = true
	c.nc.SetReadDeadline(deadline)
	c.dlMu.Unlock()
	buf := getBuf(readChunk)
	b := (*buf)[:cap(*buf)]
	total, expired := 0, false
	for {
		n, err := c.nc.Read(b)
		total += n
		if err == nil {
			if expired = total >= lingerBytes; expired {
				break
			}
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if c.lingerGoesOn(deadline) {
				continue
			}
			expired = true
		}
		break // end of stream, a reset, or CloseNow
	}
	if expired {
		c.ln.counters.lingerExpired.Add(1)
	}
	putBuf(buf)
	c.readMu.Unlock()
	c.finish(why)
}

// lingerGoesOn is asked when a lingering read hit its deadline: if the
// real one, deadline, has not come yet, another Close (the handler's, on
// its way out) set a past one to stop reading; this reading must go on, so
// the deadline is put back and it reports true.
func (c *MessageConn) lingerGoesOn(deadline time.Time) bool {
	if !time.Now().Before(deadline) {
		return false
	}
	c.dlMu.Lock()
	c.nc.SetReadDeadline(deadline)
	c.dlMu.Unlock()
	return true
}

// closedErr is what Read and Write return once the connection is closing or
// over: why it ended, or why it is closing, as a *CloseError.
func (c *MessageConn) closedErr() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.closedErrLocked()
}

// closedErrLocked is closedErr with wmu held.
func (c *MessageConn) closedErrLocked() error {
	if err := c.Err(); err != nil {
		return err
	}
	if c.closeWhy != nil {
		return c.closeWhy
	}
	if isClosed(c.ln.draining) {
		return shuttingDown() // Shutdown stopped reading; its close follows
	}
	return ErrClosed
}
