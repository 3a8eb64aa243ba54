package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
)

// Every topic is a log: each published message gets the next offset, 1, 2,
// 3…, and the last History messages are kept so that a client that comes
// back can be given what it missed. A log can be lost (the in-process
// broker's when the server process restarts, Redis's when Redis restarts
// without persistence); the next publish then starts a new log with a new
// epoch, offsets starting again at 1. An offset means something only
// together with its epoch, so clients keep both.

// Position is a place in a topic's log: the message at Offset, or the
// start of the log for Offset 0. Epoch "" is a log with nothing in it yet.
type Position struct {
	Epoch  string
	Offset uint64
}

// Message is one published message: its position and its data, a JSON
// value as the publisher sent it.
type Message struct {
	Position
	Data []byte
}

// Log is what History read of a topic's log, all at one moment.
type Log struct {
	Head Position  // the last message published (Offset 0: none)
	Msgs []Message // the kept messages after the asked offset, oldest first
}

// Broker stores topics' logs and tells every server's Sink what is
// published. Messages of one topic reach a Sink in offset order; a broker
// that can lose some (Redis pub/sub while the connection is down) makes up
// for it with a Head after reconnecting, and the hub fetches the gap from
// History.
type Broker interface {
	// Publish appends data to topic's log and returns its position. An
	// error means it was not published, unless it is a timeout or wraps
	// errPerhapsSent: the broker may have published it.
	Publish(ctx context.Context, topic string, data []byte) (Position, error)

	// History reads topic's head and up to limit kept messages after offset.
	History(ctx context.Context, topic string, after uint64, limit int) (Log, error)

	// Watch asks for topic's messages to be given to the Sink. Before the
	// first of them, the Sink gets Head with where the log stands; from
	// then on nothing published is missed. Unwatch ends it. Neither blocks
	// for long, and both are called in the order the hub decided them.
	Watch(topic string)
	Unwatch(topic string)

	Close() error
}

// errPerhapsSent is wrapped by a Publish error that came after the command
// may have reached the broker (a connection that failed while waiting for
// the answer): as with a timeout, the message may be published.
var errPerhapsSent = errors.New("the connection to the broker failed after the publish was sent")

// Sink is what a Broker delivers to: the hub. Calls for one topic come one
// at a time, in the order of the log.
type Sink interface {
	// Head says the log of topic has reached p: everything up to p is
	// published and readable with History.
	Head(topic string, p Position)

	// Message is the message published next (or one the Sink had: it
	// skips what it has seen).
	Message(topic string, m Message)
}

// newEpoch names a new log. 64 random bits: two logs of one topic never
// get the same name in practice.
func newEpoch() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
