package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/dorritgo/dorrit"
)

// Bounds of the hub's dealings with its broker.
const (
	brokerTimeout = 2 * time.Second // one broker call (publish, history read)
	fillBatch     = 256             // messages per history read when closing a gap
	maxEarly      = 1024            // messages kept for a topic before its first Head
	maxPast       = 8               // epochs a topic remembers having left
)

// hub is one server's side of pub/sub: the topics its clients subscribe
// to, each with the position its subscribers have reached, fed by the
// broker (it is the broker's Sink).
type hub struct {
	broker      Broker
	log         *slog.Logger
	replayBytes int // bytes of messages per history event, from the buffer size

	// readyTimeout: how long a subscribe waits for the broker to start
	// watching a topic. replayWait: how long a replay waits for room in
	// the client's queue; a client that takes nothing for that long is
	// too slow. Fields, so that tests can shorten them.
	readyTimeout, replayWait time.Duration

	// watchMu orders the decision to watch or unwatch a topic with the
	// call that does it, so that the broker sees Watch, Unwatch, Watch of
	// a topic in the order the hub made them.
	watchMu sync.Mutex

	mu      sync.Mutex
	topics  map[string]*topic
	clients map[*client]struct{}
}

// topic is a topic that clients of this server subscribe to.
type topic struct {
	name string
	refs int // clients holding it, subscribed or waiting to; guarded by hub.mu

	mu      sync.Mutex
	ready   chan struct{} // closed at the broker's first Head
	isReady bool
	early   []Message // messages that came before the first Head
	pos     Position  // the last message given to live subscribers
	past    []string  // the epochs before pos's, the latest last
	subs    map[*client]*sub
}

// sub is one client's subscription to a topic.
type sub struct {
	pos Position // the last message the client was given

	// catchingUp: a replay of the history is under way (catchUp) and
	// live messages are left to it; cancel stops it, done is closed when
	// it has.
	catchingUp bool
	cancel     context.CancelFunc
	done       chan struct{}
}

// newHub makes a hub for a listener with the given buffer size; its
// broker is set next (the broker needs the hub as its Sink).
func newHub(log *slog.Logger, bufferSize int) *hub {
	return &hub{
		log: log,
		// Three quarters of a frame leaves room for the JSON around the
		// messages; 30 KiB keeps a history event of small messages under
		// 32 KiB, the read limit a client on coder/websocket has unless it
		// raises it (as gorilla/websocket's and browsers' have none).
		replayBytes:  min(30<<10, (bufferSize-5)*3/4),
		readyTimeout: 5 * time.Second,
		replayWait:   10 * time.Second,
		topics:       make(map[string]*topic),
		clients:      make(map[*client]struct{}),
	}
}

func (h *hub) lookup(name string) *topic {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.topics[name]
}

// Head is the broker telling where topic's log stands (Sink).
func (h *hub) Head(name string, p Position) {
	t := h.lookup(name)
	if t == nil {
		return // no longer subscribed to here
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.isReady {
		t.pos, t.isReady = p, true
		close(t.ready)
		early := t.early
		t.early = nil
		for _, m := range early {
			h.advance(t, m.Position, &m)
		}
		return
	}
	h.advance(t, p, nil)
}

// Message is the broker delivering a published message (Sink).
func (h *hub) Message(name string, m Message) {
	t := h.lookup(name)
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.isReady {
		// The Head to come says where these stand; past maxEarly, that
		// Head's gap is read from the history instead.
		if len(t.early) < maxEarly {
			t.early = append(t.early, m)
		}
		return
	}
	h.advance(t, m.Position, &m)
}

// advance brings t's live subscribers to position to, whose message is m
// when the broker delivered one: in order, without repeats, reading from
// the history what the broker's delivery skipped. t.mu is held.
func (h *hub) advance(t *topic, to Position, m *Message) {
	if to.Epoch != t.pos.Epoch {
		if t.hadEpoch(to.Epoch) {
			return // late news of a log this server has moved on from
		}
		if t.pos.Epoch == "" {
			t.pos = Position{Epoch: to.Epoch} // the first log of this topic begins
		} else {
			h.skip(t, Position{Epoch: to.Epoch}, fmt.Sprintf(
				"the log of epoch %s is gone (the broker lost it: restarted without its data?); a new log begins and offsets start again",
				t.pos.Epoch))
		}
	}
	if to.Offset <= t.pos.Offset {
		return // had it
	}
	if m != nil && m.Offset == t.pos.Offset+1 {
		h.fanout(t, *m)
		return
	}
	h.fill(t, to, m)
}

// fill delivers what lies between t.pos and to from the broker's history;
// what cannot be read any more is announced as missed. m, when not nil, is
// the message at to.
func (h *hub) fill(t *topic, to Position, m *Message) {
	h.log.Debug("reading messages the broker's delivery skipped from the history", "topic", t.name,
		"from", t.pos.Offset+1, "to", to.Offset)
	for t.pos.Offset < to.Offset {
		ctx, cancel := context.WithTimeout(context.Background(), brokerTimeout)
		lg, err := h.broker.History(ctx, t.name, t.pos.Offset, int(min(to.Offset-t.pos.Offset, fillBatch)))
		cancel()
		var why string
		switch {
		case err != nil:
			why = fmt.Sprintf("reading them from the broker failed: %v", err)
		case lg.Head.Epoch != to.Epoch:
			why = "the log was started again meanwhile"
		case len(lg.Msgs) == 0 || lg.Msgs[0].Offset != t.pos.Offset+1:
			why = "they are no longer kept"
		}
		if why != "" {
			last := to
			if m != nil {
				last.Offset-- // m itself is here
			}
			h.log.Warn("messages lost for this server's subscribers", "topic", t.name,
				"from", t.pos.Offset+1, "to", last.Offset, "why", why)
			h.skip(t, last, fmt.Sprintf("messages %d to %d: %s", t.pos.Offset+1, last.Offset, why))
			if m != nil {
				h.fanout(t, *m)
			}
			return
		}
		for _, x := range lg.Msgs {
			if x.Offset > to.Offset {
				break
			}
			h.fanout(t, x)
		}
	}
}

// skip moves t and its live subscribers to p without the messages
// between, telling them so. t.mu is held.
func (h *hub) skip(t *topic, p Position, why string) {
	if p.Epoch != t.pos.Epoch && t.pos.Epoch != "" {
		t.past = append(t.past, t.pos.Epoch)
		if len(t.past) > maxPast {
			t.past = t.past[1:]
		}
	}
	t.pos = p
	ev := encode(missedEvent{Type: "missed", Topic: t.name, Epoch: p.Epoch, Offset: p.Offset, Reason: why})
	for cl, s := range t.subs {
		if s.catchingUp || s.pos.Epoch == p.Epoch && s.pos.Offset >= p.Offset {
			// A replay finds out from the history itself; a client
			// resumed ahead of this server in the new log lost nothing.
			continue
		}
		s.pos = p
		h.send(cl, ev)
	}
}

// hadEpoch says whether t's subscribers were moved on from epoch e.
func (t *topic) hadEpoch(e string) bool {
	for _, p := range t.past {
		if p == e {
			return true
		}
	}
	return false
}

// fanout gives m to every live subscriber of t. It never waits: a client
// whose queue is full is dropped, and the others go on. t.mu is held.
func (h *hub) fanout(t *topic, m Message) {
	t.pos = m.Position
	if len(t.subs) == 0 {
		return
	}
	// Framed once for all subscribers: their queues share it, so a backlog
	// on many slow subscribers holds the message once, not once each.
	msg := encode(messageEvent{Type: "message", Topic: t.name, Epoch: m.Epoch, Offset: m.Offset, Data: m.Data})
	ev := dorrit.NewPreparedMessage(msg)
	for cl, s := range t.subs {
		// Live subscribers are in t's log, or ahead of this server (they
		// resumed with what another server had delivered already), or
		// subscribed while there was no log: they take m if it follows.
		if !s.catchingUp && (s.pos.Epoch == "" || s.pos.Epoch == m.Epoch && s.pos.Offset < m.Offset) {
			s.pos = m.Position
			h.sendPrepared(cl, msg, ev)
		}
	}
}

// sendStats gives every client the number of subscribers, on this server,
// of each topic it subscribes to (the Periodic function).
func (h *hub) sendStats() {
	h.mu.Lock()
	topics := make([]*topic, 0, len(h.topics))
	for _, t := range h.topics {
		topics = append(topics, t)
	}
	clients := make([]*client, 0, len(h.clients))
	for cl := range h.clients {
		clients = append(clients, cl)
	}
	h.mu.Unlock()
	// Each topic's lock on its own, h.mu released: a topic may be busy
	// reading a gap from the broker, and the others must not wait.
	counts := make(map[string]int, len(topics))
	for _, t := range topics {
		t.mu.Lock()
		counts[t.name] = len(t.subs)
		t.mu.Unlock()
	}
	for _, cl := range clients {
		ev := statsEvent{Type: "stats", Subscribers: make(map[string]int)}
		cl.mu.Lock()
		for name := range cl.topics {
			ev.Subscribers[name] = counts[name]
		}
		cl.mu.Unlock()
		if len(ev.Subscribers) > 0 {
			h.send(cl, encode(ev))
		}
	}
}

// subscribers is how many clients of this server subscribe to topic.
func (h *hub) subscribers(name string) int {
	t := h.lookup(name)
	if t == nil {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.subs)
}
