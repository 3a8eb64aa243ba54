package main

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/dorritgo/dorrit"
)

// A client's outbox holds what the server sends it beyond dorrit's own
// queue (200 frames): while that has room messages go straight to it
// (Write, WritePrepared), and past it they wait here, in order, for the
// client's writer goroutine to move them there with WriteContext. Two kinds of messages go through it:
//
//   - replies to the client's own requests (subscribed, ack, error,
//     unsubscribed): never the reason a client is dropped. A client whose
//     replies pile up (a publisher pipelining faster than it reads its
//     acks) is slowed down instead: its handler waits to read its next
//     request until fewer than maxReplies replies are waiting, for up to
//     replyWait.
//   - events (message, history, missed, stats): the fan-out never waits
//     for a client, so a client whose events exceed maxEventBytes or
//     maxEvents is dropped (1008, "too slow"), and the drop is logged with
//     what it had waiting.
//
// The figures: 1 MiB of events, as Centrifugo's default client queue,
// holds 250 messages of 4 KiB or 8,000 of 128 bytes on top of dorrit's 200
// frames; 4,096 events bound the small ones. At the default of 2,000
// connections that is at most 2 GiB in a server whose every client
// stalls at once, the price of not dropping a reader that falls behind in
// a burst.
const (
	maxEventBytes = 1 << 20
	maxEvents     = 4096
	maxReplies    = 256
	replyWait     = 10 * time.Second
)

type outbox struct {
	c *dorrit.MessageConn

	mu         sync.Mutex
	items      []outItem
	inflight   bool // the writer has taken an item and not written it yet
	eventBytes int
	events     int
	replies    int
	closed     bool
	wake       chan struct{} // the writer: something to send
	room       chan struct{} // closed and replaced when the writer took some
}

type outItem struct {
	msg   []byte
	reply bool
}

func newOutbox(c *dorrit.MessageConn) *outbox {
	return &outbox{c: c, wake: make(chan struct{}, 1), room: make(chan struct{})}
}

// push sends msg (pm, when not nil, is msg prepared); for an event it
// reports false, sending nothing, when the client's events would exceed
// the bounds.
func (o *outbox) push(msg []byte, pm *dorrit.PreparedMessage, reply bool) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return true // leaving: its handler cleans up
	}
	if len(o.items) == 0 && !o.inflight {
		var err error
		if pm != nil {
			err = o.c.WritePrepared(pm)
		} else {
			err = o.c.Write(msg)
		}
		if !errors.Is(err, dorrit.ErrQueueFull) {
			return true // queued, or the connection is closing: its handler cleans up
		}
	}
	if !reply {
		if o.eventBytes+len(msg) > maxEventBytes || o.events >= maxEvents {
			return false
		}
		o.eventBytes += len(msg)
		o.events++
	} else {
		o.replies++
	}
	o.items = append(o.items, outItem{msg, reply})
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return true
}

// waiting says what the outbox holds: events, their bytes, and replies.
func (o *outbox) waiting() (events, bytes, replies int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.events, o.eventBytes, o.replies
}

// waitRoom waits until fewer than maxReplies replies, or, for events,
// less than half the bounds, are waiting; false when ctx ended first.
func (o *outbox) waitRoom(ctx context.Context, events bool) bool {
	for {
		o.mu.Lock()
		ok := o.closed || !events && o.replies < maxReplies ||
			events && o.eventBytes < maxEventBytes/2 && o.events < maxEvents/2
		room := o.room
		o.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-room:
		case <-ctx.Done():
			return false
		}
	}
}

// close discards what is waiting; nothing is queued after.
func (o *outbox) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	o.items = nil
	o.eventBytes, o.events, o.replies = 0, 0, 0
	close(o.room)
	o.room = make(chan struct{})
}

// run moves the outbox into c's queue until c ends.
func (o *outbox) run() {
	c := o.c
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-c.Done()
		cancel()
	}()
	for {
		select {
		case <-o.wake:
		case <-ctx.Done():
			return
		}
		for {
			o.mu.Lock()
			if len(o.items) == 0 || o.closed {
				o.mu.Unlock()
				break
			}
			it := o.items[0]
			msg := it.msg
			o.items[0] = outItem{}
			o.items = o.items[1:]
			o.inflight = true
			if it.reply {
				o.replies--
			} else {
				o.events--
				o.eventBytes -= len(msg)
			}
			close(o.room)
			o.room = make(chan struct{})
			o.mu.Unlock()
			err := c.WriteContext(ctx, msg)
			o.mu.Lock()
			o.inflight = false
			o.mu.Unlock()
			if err != nil {
				return // the connection is closing; its handler cleans up
			}
		}
	}
}
