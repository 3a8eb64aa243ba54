package protocol

// Counters are one connection's figures, as Stats shows them. Each counts
// events since the connection began and never goes down. The core counts
// them; the engine reads them under whatever guards its calls into the core
// and folds them into the listener's when the connection ends.
type Counters struct {
	// MessagesIn, BytesIn: complete text messages received and their
	// payload bytes. What arrives after the server's close frame was queued
	// is discarded (RFC 6455 §5.5.1) and not counted.
	MessagesIn, BytesIn uint64
	// MessagesOut, BytesOut: messages accepted by Write or WritePrepared.
	MessagesOut, BytesOut uint64
	// QueueFull: Writes refused with ErrQueueFull; QueueBudget: those of
	// them refused by the Budget rather than the 200-frame bound.
	QueueFull, QueueBudget uint64
	// Undelivered: accepted data frames that never reached the client
	// (dropped by a failure, Drop, a pong timeout, CloseNow, a client gone).
	Undelivered uint64
	// LingerExpired: 1 when the server's close frame left and the client
	// neither answered nor ended its stream within the engine's time
	// (LingerExpired) or LingerBytes.
	LingerExpired uint64
	// Dropped says why the core failed the connection, if it did.
	Dropped Drop
}

// Drop is why the core failed a connection: each has its Stats counter.
type Drop uint8

// The reasons, as Stats.Dropped counts them.
const (
	DropNone        Drop = iota
	DropBinary           // a binary message: 1003
	DropTooBig           // a frame or message over MaxPayload, or in too many fragments: 1009
	DropProtocol         // an RFC 6455 violation: 1002
	DropBadUTF8          // invalid UTF-8 in a text message or close reason: 1007
	DropPongTimeout      // a silent client that answered no ping: 1001
	DropApplication      // the application's Drop
)

// countDrop records why the connection failed; the first reason stands.
func (c *Conn) countDrop(d Drop) {
	if c.counters.Dropped == DropNone {
		c.counters.Dropped = d
	}
}
