package dorrit

import (
	"sync/atomic"

	"github.com/dorritgo/dorrit/internal/protocol"
)

// Stats are a listener's figures. Three are gauges, what is so now: Live,
// Handshaking and QueuedBytes (int64). Every other field counts events
// since Listen and never goes down (uint64), as a Prometheus counter does.
type Stats struct {
	Live        int64  // gauge: connections open now, counted from the capacity check of their handshake
	Handshaking int64  // gauge: sockets accepted whose upgrade request is still being read
	Accepted    uint64 // connections upgraded (handed to Accept)
	Refused     RefusedStats
	Dropped     DroppedStats

	// QueueFull counts Writes refused with ErrQueueFull (the connection
	// stays); QueueBudget those of them refused because all queues together
	// held Options.MaxQueueBytes rather than the connection's 200 frames.
	// QueuedBytes (a gauge) is what all queues hold now, as that budget
	// counts it (in 16 KiB steps per connection).
	QueueFull   uint64
	QueueBudget uint64
	QueuedBytes int64

	// Undelivered counts queued data frames that never reached the client
	// because the connection ended first: CloseNow, a graceful close that
	// gave up (DeliveryError), a failed connection, a client gone.
	Undelivered uint64

	// LingerExpired counts connections closed by the server whose client
	// neither answered the close frame nor ended its stream within 2 s (or
	// sent 1 MiB meanwhile): the socket was closed on it then. A front
	// server that keeps client connections open counts here.
	LingerExpired uint64

	// MessagesIn, MessagesOut count complete text messages. What a client
	// sends after the server's close frame is discarded (RFC 6455) and not
	// counted.
	MessagesIn, MessagesOut uint64
	BytesIn, BytesOut       uint64 // their payload bytes
}

// RefusedStats count handshakes answered without an upgrade, by reason.
type RefusedStats struct {
	Full         uint64 // MaxConns reached, twice as many handshakes in progress (at least 64), or shutting down: 503
	BadRequest   uint64 // not a valid WebSocket upgrade: 400, 405, 426, 431
	Origin       uint64 // cross-site origin: 403
	Unauthorized uint64 // Options.Authorize said no: 403
	Timeout      uint64 // request not complete within HandshakeTimeout, or the client left
	Peer         uint64 // connecting process not in Options.PeerUsers/PeerGroups: 403
}

// DroppedStats count connections dorrit failed because of what the client
// sent, or did not send, by reason.
type DroppedStats struct {
	Binary      uint64 // binary message: 1003
	TooBig      uint64 // frame or message over BufferSize-5: 1009
	Protocol    uint64 // RFC 6455 violation: 1002
	BadUTF8     uint64 // invalid UTF-8 in a text message or close reason: 1007
	PongTimeout uint64 // silent client that did not answer a keepalive ping: 1001
	Application uint64 // dropped by the application with MessageConn.Drop
}

// Total is the number of connections dropped for any reason.
func (d DroppedStats) Total() uint64 {
	return d.Binary + d.TooBig + d.Protocol + d.BadUTF8 + d.PongTimeout + d.Application
}

// Total is the number of handshakes refused for any reason.
func (r RefusedStats) Total() uint64 {
	return r.Full + r.BadRequest + r.Origin + r.Unauthorized + r.Timeout + r.Peer
}

// dropReason says which DroppedStats counter a failure counts in: the
// core's reasons.
type dropReason = protocol.Drop

const (
	dropNone        = protocol.DropNone
	dropBinary      = protocol.DropBinary
	dropTooBig      = protocol.DropTooBig
	dropProtocol    = protocol.DropProtocol
	dropBadUTF8     = protocol.DropBadUTF8
	dropPongTimeout = protocol.DropPongTimeout
	dropApplication = protocol.DropApplication
)

// listenerCounters hold what ended connections and handshakes left behind.
type listenerCounters struct {
	live, accepted                                        atomic.Int64
	refFull, refBad, refOrigin, refUnauth, refTimeout     atomic.Uint64
	refPeer                                               atomic.Uint64
	dropBinary, dropTooBig, dropProtocol, dropBadUTF8     atomic.Uint64
	dropPongTimeout, undelivered, lingerExpired           atomic.Uint64
	queueBudget, dropApplication                          atomic.Uint64
	queueFull, messagesIn, messagesOut, bytesIn, bytesOut atomic.Uint64
}

func (lc *listenerCounters) drop(r dropReason) {
	switch r {
	case dropBinary:
		lc.dropBinary.Add(1)
	case dropTooBig:
		lc.dropTooBig.Add(1)
	case dropProtocol:
		lc.dropProtocol.Add(1)
	case dropBadUTF8:
		lc.dropBadUTF8.Add(1)
	case dropPongTimeout:
		lc.dropPongTimeout.Add(1)
	case dropApplication:
		lc.dropApplication.Add(1)
	}
}

// fold moves an ended connection's figures into the listener's.
func (lc *listenerCounters) fold(cs *protocol.Counters) {
	lc.messagesIn.Add(cs.MessagesIn)
	lc.messagesOut.Add(cs.MessagesOut)
	lc.bytesIn.Add(cs.BytesIn)
	lc.bytesOut.Add(cs.BytesOut)
	lc.queueFull.Add(cs.QueueFull)
	lc.queueBudget.Add(cs.QueueBudget)
	lc.undelivered.Add(cs.Undelivered)
	lc.lingerExpired.Add(cs.LingerExpired)
	lc.drop(cs.Dropped)
}

func (lc *listenerCounters) snapshot() Stats {
	return Stats{
		Live:     lc.live.Load(),
		Accepted: uint64(lc.accepted.Load()),
		Refused: RefusedStats{
			Full: lc.refFull.Load(), BadRequest: lc.refBad.Load(), Origin: lc.refOrigin.Load(),
			Unauthorized: lc.refUnauth.Load(), Timeout: lc.refTimeout.Load(), Peer: lc.refPeer.Load(),
		},
		Dropped: DroppedStats{
			Binary: lc.dropBinary.Load(), TooBig: lc.dropTooBig.Load(),
			Protocol: lc.dropProtocol.Load(), BadUTF8: lc.dropBadUTF8.Load(),
			PongTimeout: lc.dropPongTimeout.Load(), Application: lc.dropApplication.Load(),
		},
		QueueFull:     lc.queueFull.Load(),
		Undelivered:   lc.undelivered.Load(),
		QueueBudget:   lc.queueBudget.Load(),
		LingerExpired: lc.lingerExpired.Load(),
		MessagesIn:    lc.messagesIn.Load(),
		MessagesOut:   lc.messagesOut.Load(),
		BytesIn:       lc.bytesIn.Load(),
		BytesOut:      lc.bytesOut.Load(),
	}
}

// add counts a live connection's figures.
func (s *Stats) add(cs *protocol.Counters) {
	s.MessagesIn += cs.MessagesIn
	s.MessagesOut += cs.MessagesOut
	s.BytesIn += cs.BytesIn
	s.BytesOut += cs.BytesOut
	s.QueueFull += cs.QueueFull
	s.QueueBudget += cs.QueueBudget
	s.Undelivered += cs.Undelivered
	s.LingerExpired += cs.LingerExpired
	switch cs.Dropped {
	case dropBinary:
		s.Dropped.Binary++
	case dropTooBig:
		s.Dropped.TooBig++
	case dropProtocol:
		s.Dropped.Protocol++
	case dropBadUTF8:
		s.Dropped.BadUTF8++
	case dropPongTimeout:
		s.Dropped.PongTimeout++
	case dropApplication:
		s.Dropped.Application++
	}
}
