package dorrit

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dorritgo/dorrit/internal/protocol"
	"github.com/dorritgo/dorrit/internal/unixsocket"
)

// connIDs numbers connections across all listeners of the process.
var connIDs atomic.Uint64

// A Listener accepts WebSocket connections forwarded by a front server on a
// UNIX-domain socket. Handshakes run concurrently in the background, so one
// slow client never delays another; Accept hands out upgraded connections.
type Listener struct {
	opts     Options
	peers    peerFilter
	ul       *net.UnixListener
	file     *unixsocket.File // nil for an adopted listener
	counters listenerCounters

	// handshakes counts handshakes in progress; see handshakeLimit.
	handshakes atomic.Int64

	// clock counts keepalive ticks; connections note it when bytes arrive.
	clock atomic.Uint32

	// queued is what all queues hold, in protocol.BudgetGranule steps (budget.go).
	queued atomic.Int64

	// core is what every connection's protocol core keeps the rules by.
	core protocol.Config

	accepted  chan *MessageConn
	closing   chan struct{} // Close: no new sockets are accepted
	loopDone  chan struct{}
	handedOut chan struct{} // closed and every handshake in progress handed out
	draining  chan struct{} // Shutdown: handshakes are refused, connections drain
	hsWG      sync.WaitGroup
	closeErr  error
	once      sync.Once
	drainOnce sync.Once

	mu    sync.Mutex
	conns map[*MessageConn]struct{}
}

// Listen creates the socket described by o (or adopts o.Listener) and starts
// accepting. The returned Listener owns the socket file until Close.
func Listen(o Options) (*Listener, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	ln := &Listener{
		opts:      o,
		accepted:  make(chan *MessageConn),
		closing:   make(chan struct{}),
		loopDone:  make(chan struct{}),
		handedOut: make(chan struct{}),
		draining:  make(chan struct{}),
		conns:     make(map[*MessageConn]struct{}),
	}
	if ln.peers, err = newPeerFilter(o); err != nil {
		return nil, err
	}
	if o.Listener != nil {
		ln.ul, err = adoptListener(o.Listener)
	} else {
		ln.ul, ln.file, err = createSocket(o)
	}
	if err != nil {
		return nil, err
	}
	ln.clock.Store(1)
	ln.core = protocol.Config{MaxPayload: o.maxPayload(), Pool: corePool{}, Budget: (*listenerBudget)(ln)}
	if o.PingInterval > 0 {
		tick := keepaliveTick(o)
		ln.core.PingAfter = ticksFor(o.PingInterval, tick)
		ln.core.PongWithin = ticksFor(o.PongTimeout, tick)
	}
	go ln.acceptLoop()
	go func() {
		<-ln.loopDone
		ln.hsWG.Wait() // no Add after loopDone: only the accept loop adds
		close(ln.handedOut)
	}()
	if o.PingInterval > 0 || o.MaxQueueBytes > 0 {
		go ln.housekeeping() // keepalive, and memory given back after a backlog
	}
	return ln, nil
}

// listenerClosedError matches both ErrClosed and net.ErrClosed.
type listenerClosedError struct{}

func (listenerClosedError) Error() string { return "dorrit: listener closed" }
func (listenerClosedError) Is(target error) bool {
	return target == ErrClosed || target == net.ErrClosed
}

// Accept waits for the next connection whose handshake dorrit has checked
// and accepted. Its 101 answer has not left yet: it leaves with the
// connection's first Read, CloseRead, Write (WritePrepared, WriteContext) or
// graceful close, so the client is connected only once the application has
// the connection. What the accept loop does before starting the handler —
// registering c with the hub that broadcasts — is done before the client's
// handshake completes, and a message to everyone sent after that reaches it.
//
// After Close, Accept still returns the connections whose handshakes were in
// progress, then an error matching ErrClosed and net.ErrClosed; after
// Shutdown, that error at once.
func (ln *Listener) Accept() (*MessageConn, error) {
	return ln.AcceptContext(context.Background())
}

// AcceptContext is Accept that gives up with ctx.Err() when ctx ends.
func (ln *Listener) AcceptContext(ctx context.Context) (*MessageConn, error) {
	select {
	case c := <-ln.accepted:
		return c, nil
	case <-ln.handedOut:
		return nil, listenerClosedError{}
	case <-ln.draining:
		return nil, listenerClosedError{}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Addr is the socket's address.
func (ln *Listener) Addr() net.Addr { return ln.ul.Addr() }

// Options are the listener's options with defaults filled in.
func (ln *Listener) Options() Options { return ln.opts }

// Close stops accepting and removes the socket file Listen created (an
// adopted listener's file is left alone). Handshakes already in progress
// complete, and Accept hands out their connections (within
// HandshakeTimeout, else they are closed with 1001), so that a client the
// listener took in is never refused: a graceful upgrade closes the old
// listener while the new one accepts on the same socket. Connections
// already accepted stay open. Calling Close again returns the first result.
func (ln *Listener) Close() error {
	ln.once.Do(func() {
		close(ln.closing)
		ln.closeErr = ln.ul.Close()
		if ln.file != nil {
			ln.file.Remove()
		}
		<-ln.loopDone
	})
	return ln.closeErr
}

// Shutdown stops accepting, then closes every connection gracefully with
// 1001 (going away) after its queue was delivered, and waits for them.
// Reading stops first: a Read returns the 1001 *CloseError from then on.
// A handler that holds a message Read gave it may still answer it: the
// close frame follows once the handler calls Read again or closes (its
// Close then sends 1001 too), or after 1 s (at most half of what is left
// of ctx) if it does neither. What the
// client sends after the close frame is discarded, as RFC 6455 says, and
// not counted in Stats.
// Each connection is closed as Close closes it: it takes as long as its
// client keeps reading, and is given up when its socket takes no bytes for
// 5 s. When ctx ends first, the remaining connections are closed at once.
//
// Shutdown returns nil when every queued frame was delivered. Otherwise it
// returns a *DeliveryError with the frames lost across all connections,
// which wraps ctx.Err() when ctx ended (errors.Is(err,
// context.DeadlineExceeded) holds) or else ErrStalled; or ctx.Err() alone
// when ctx ended while only clients' answers to the close frame were
// awaited.
func (ln *Listener) Shutdown(ctx context.Context) error {
	err := ln.Close()
	ln.mu.Lock()
	ln.drainOnce.Do(func() { close(ln.draining) })
	conns := make([]*MessageConn, 0, len(ln.conns))
	for c := range ln.conns {
		conns = append(conns, c)
	}
	ln.mu.Unlock()

	var wg sync.WaitGroup
	var lost atomic.Int64
	for _, c := range conns {
		wg.Go(func() {
			var de *DeliveryError
			c.awaitHandler(ctx)
			if errors.As(c.closeGracefully(ctx, shuttingDown()), &de) {
				lost.Add(int64(de.Undelivered))
			}
			<-c.Done()
		})
	}
	wg.Wait()
	switch {
	case lost.Load() > 0:
		cause := ctx.Err()
		if cause == nil {
			cause = ErrStalled
		}
		return &DeliveryError{Undelivered: int(lost.Load()), Err: cause}
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return err
}

// Stats returns the listener's figures, live connections included.
func (ln *Listener) Stats() Stats {
	ln.mu.Lock()
	defer ln.mu.Unlock()
	s := ln.counters.snapshot()
	s.Handshaking = ln.handshakes.Load()
	s.QueuedBytes = ln.queued.Load()
	for c := range ln.conns {
		c.mu.Lock()
		cs := c.core.Counters()
		c.mu.Unlock()
		s.add(&cs)
	}
	return s
}

func (ln *Listener) acceptLoop() {
	defer close(ln.loopDone)
	var backoff time.Duration
	for {
		nc, err := ln.ul.AcceptUnix()
		if err != nil {
			if isClosed(ln.closing) || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors or a connection aborted: the listening
			// socket is fine, so wait a little instead of spinning.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(backoff):
				continue
			case <-ln.closing:
				return
			}
		}
		backoff = 0
		// Counted here, before a goroutine exists, so that a flood of
		// half-sent requests cannot start more goroutines than the limit.
		// The excess is refused on this goroutine without reading: refuse
		// cannot block (its write has a short deadline and fits in the
		// fresh socket's buffer), and a goroutine for it is what we avoid.
		if limit := ln.handshakeLimit(); ln.handshakes.Load() >= limit {
			ln.refuse(nc, refuseUnavailable(func(lc *listenerCounters) { lc.refFull.Add(1) },
				"%d upgrade handshakes already in progress (the limit is twice MaxConns, at least %d); retry later, or look for clients that send their request slowly",
				limit, minHandshakeLimit))
			continue
		}
		ln.handshakes.Add(1)
		ln.hsWG.Add(1)
		go ln.serveHandshake(nc)
	}
}

// minHandshakeLimit is the least number of handshakes that may be in
// progress at once, whatever MaxConns says. Honest handshakes take
// microseconds but arrive in bursts (every tab reconnecting after a
// restart); a small server (MaxConns 10) must not refuse honest clients
// merely for arriving together, before each has met the MaxConns check,
// which frees slots as others leave. 64 waiting handshakes cost about
// 64 × (8 KiB stack + 4 KiB reader), under 1 MiB.
const minHandshakeLimit = 64

// handshakeLimit bounds handshakes in progress, each a goroutine holding a
// connection that HandshakeTimeout may keep for seconds. MaxConns is the
// scale the operator chose for what the server can hold; twice that leaves
// room for honest clients beside as many slow ones as the server holds
// connections (2,000 slowloris requests against the defaults still let a
// normal client in), at 2 × 2000 × ~12 KiB = 47 MiB at most.
func (ln *Listener) handshakeLimit() int64 {
	return int64(max(2*ln.opts.MaxConns, minHandshakeLimit))
}

func (ln *Listener) serveHandshake(nc *net.UnixConn) {
	c := ln.handshake(nc)
	// Done handshaking: an upgraded connection waiting for Accept below
	// holds a MaxConns slot instead.
	ln.handshakes.Add(-1)
	if c == nil {
		ln.hsWG.Done()
		return
	}
	if ln.handOut(c) {
		return
	}
	// Upgraded while the listener shut down, or nobody Accepts any more.
	c.closeGracefully(context.Background(), &CloseError{Code: StatusGoingAway, Reason: "server stopped accepting"})
}

// handOut gives c to Accept and reports whether it was taken. Accept
// learns that the listener is closed only after every handOut ended.
func (ln *Listener) handOut(c *MessageConn) bool {
	defer ln.hsWG.Done()
	ln.mu.Lock()
	ln.conns[c] = struct{}{}
	ln.counters.accepted.Add(1)
	// Shutdown closes draining under mu with its snapshot of conns: a
	// connection added after that is not in it and must not be handed out.
	late := isClosed(ln.draining)
	ln.mu.Unlock()
	if late {
		return false
	}
	select {
	case ln.accepted <- c:
		return true
	case <-ln.draining:
		return false
	case <-ln.closing:
	}
	// Closed while this handshake was in progress: an Accept may still
	// take it, but not forever.
	wait := time.NewTimer(ln.opts.HandshakeTimeout)
	defer wait.Stop()
	select {
	case ln.accepted <- c:
		return true
	case <-ln.draining:
	case <-wait.C:
	}
	return false
}

// reserve takes a connection slot, or reports false at MaxConns or when
// shutting down. A Close alone refuses nothing that it already took in.
func (ln *Listener) reserve() bool {
	if isClosed(ln.draining) {
		return false
	}
	for {
		n := ln.counters.live.Load()
		if n >= int64(ln.opts.MaxConns) {
			return false
		}
		if ln.counters.live.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (ln *Listener) release() { ln.counters.live.Add(-1) }

// forget is called once by a connection that ended, with its figures.
func (ln *Listener) forget(c *MessageConn, cs *protocol.Counters) {
	ln.mu.Lock()
	delete(ln.conns, c)
	ln.counters.fold(cs)
	ln.mu.Unlock()
	ln.release()
}
