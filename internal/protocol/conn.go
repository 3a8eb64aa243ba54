package protocol

// MaxQueuedFrames is how many data frames may wait on one connection (the
// manual's rule). Control frames (pongs, a ping, the close frame) do not
// count: they are few and bounded.
const MaxQueuedFrames = 200

// LingerBytes bounds what a client may still send once the server's close
// frame has left: the rest of a 64 KiB frame and what the buffers hold,
// many times over.
const LingerBytes = 1 << 20

// Config is what a connection's rules depend on. One Config serves every
// connection of a listener (a Conn keeps a pointer to it, not a copy, to
// stay small while idle); it must not change once a Conn uses it.
type Config struct {
	// MaxPayload bounds every incoming frame and message, and is the
	// fragment size of outgoing messages: BufferSize-5. 1..1<<30.
	MaxPayload int

	// PingAfter is how many ticks (see Tick) a client may stay silent
	// before it is pinged; 0 disables keepalive. PongWithin is how many
	// ticks it then has to send anything at all.
	PingAfter, PongWithin uint32

	// Pool lends the buffers; it is required.
	Pool Pool

	// Budget bounds the bytes of all queues together; nil bounds none.
	Budget Budget
}

// State is how far a connection is on its way to closing. Each state
// tells the engine what to do with the socket.
type State uint8

const (
	// Open: messages flow both ways.
	Open State = iota
	// Closing: a close frame is queued behind what it must follow; Write
	// fails with ErrClosing. Keep writing Output.
	Closing
	// Linger: the server's close frame has left and the client has not
	// answered it. Shut the socket's write side (so that the end of stream
	// follows the close frame) and keep reading until the client's close
	// frame, its end of stream, LingerBytes, or the engine's linger time
	// (then call LingerExpired). Closing the socket with unread bytes
	// would reset it, and a front server drops both sides on a reset
	// without forwarding the close frame it already read.
	Linger
	// Closed: the close handshake is complete or given up: close the
	// socket. Output may still hold one close frame (after TimeOut) that
	// the engine writes if the socket takes it at once; then CloseNow.
	Closed
)

func (s State) String() string {
	switch s {
	case Open:
		return "open"
	case Closing:
		return "closing"
	case Linger:
		return "linger"
	case Closed:
		return "closed"
	}
	return "state?"
}

// Conn is the WebSocket state of one server-side connection. The zero
// value is not usable; see New. A Conn is not safe for concurrent use: the
// engine calls it from one goroutine at a time (its loop, or under its
// lock), and it never calls out except to its Pool and Budget.
//
// Its fields are laid out small (232 bytes on 64-bit machines), because an
// engine keeps one per connection, idle or not; the buffers it borrows
// while bytes are in flight come from the Pool.
type Conn struct {
	cfg        *Config
	maxPayload int32
	state      State

	// Read side (receive.go).
	spillN     uint8
	spill      [maxHeaderLen]byte // a header that arrived in pieces
	haveHeader bool
	inMessage  bool   // a fragmented text message is being reassembled
	discard    bool   // nothing more is parsed: after a violation, or after the client's close
	peerClosed bool   // the client's close frame arrived
	frameFin   bool   // the frame in progress, valid while haveHeader: FIN,
	frameOp    byte   // opcode,
	fragments  uint16 // frames of the message in progress, bounded by MaxFragments
	frameLen   uint32 // payload length (checked against MaxPayload),
	frameKey   uint32 // masking key,
	frameDone  uint32 // and payload bytes already taken
	utf8       utf8State
	lingered   int32   // bytes received in Linger
	msg        *[]byte // the message or frame assembled across calls
	ctrl       *[]byte // a control frame's payload assembled across calls
	lent       *[]byte // buffer of the last Message event, taken back at the next call

	// Write side (queue.go, write.go, control.go).
	q        []queued
	qarr     *QueueArray // the pooled array q started from, nil when q has none
	pong     *[]byte     // the queued pong not yet started, rewritten by a newer ping
	qoff     int32       // bytes of q[0] already written
	queued   int32       // data frames in q, bounded by MaxQueuedFrames
	qbytes   uint32      // their bytes, for the Budget
	batching bool        // more small writes follow (see Cork)
	direct   bool        // between WriteDirect and DirectWritten

	// Close (close.go).
	closeSent bool
	why       *CloseInfo

	// Keepalive (keepalive.go).
	heard               bool // bytes arrived since the last Tick
	pinged              bool
	lastHeard, pingedAt uint32

	counters Counters
}

// CloseInfo is why a connection closes: the code and reason of its close
// frame, and whether the client's close frame started it.
type CloseInfo struct {
	Code   StatusCode
	Reason string
	Remote bool
}

// New returns the core of a connection whose handshake is done, at tick
// now of the keepalive's clock (its silence counts from there).
func New(cfg *Config, now uint32) *Conn {
	c := new(Conn)
	c.Init(cfg, now)
	return c
}

// Init makes c the core of a new connection, for an engine that embeds
// the Conn in its own connection value instead of pointing to one.
func (c *Conn) Init(cfg *Config, now uint32) {
	*c = Conn{cfg: cfg, maxPayload: int32(min(max(cfg.MaxPayload, 1), 1<<30)), lastHeard: now}
}

// State is how far the connection is on its way to closing.
func (c *Conn) State() State { return c.state }

// MaxPayload is the connection's bound on frames and messages.
func (c *Conn) MaxPayload() int { return int(c.maxPayload) }

// Why tells why the connection is closing; the zero CloseInfo while Open.
func (c *Conn) Why() CloseInfo {
	if c.why == nil {
		return CloseInfo{}
	}
	return *c.why
}

// Counters returns the connection's figures so far.
func (c *Conn) Counters() Counters { return c.counters }
