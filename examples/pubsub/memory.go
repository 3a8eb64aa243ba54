package main

import (
	"context"
	"sync"
)

// memoryBroker is the in-process broker: one server, no other process
// needed. Its logs live as long as the server process, so a restart or an
// upgrade of the server starts new epochs.
type memoryBroker struct {
	sink    Sink
	history int // messages kept per topic

	mu     sync.Mutex
	topics map[string]*memoryLog
}

type memoryLog struct {
	// deliver is held while the sink hears of the log (Head or Message),
	// so that it hears in log order; mu guards the log itself, so that
	// History (which the sink may call) never waits for a delivery.
	deliver sync.Mutex

	mu    sync.Mutex
	epoch string
	head  uint64
	ring  []Message // the last len(ring) messages; head's is at (head-1) % cap
}

func newMemoryBroker(history int, sink Sink) *memoryBroker {
	return &memoryBroker{sink: sink, history: history, topics: make(map[string]*memoryLog)}
}

// log returns topic's log; create makes it when there is none yet.
func (b *memoryBroker) log(topic string, create bool) *memoryLog {
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.topics[topic]
	if l == nil && create {
		// The log exists from the first publish on, not from a subscribe:
		// a client subscribing to made-up names must not cost memory.
		l = &memoryLog{epoch: newEpoch(), ring: make([]Message, 0, min(b.history, 64))}
		b.topics[topic] = l
	}
	return l
}

func (b *memoryBroker) Publish(_ context.Context, topic string, data []byte) (Position, error) {
	l := b.log(topic, true)
	l.deliver.Lock()
	defer l.deliver.Unlock()
	l.mu.Lock()
	l.head++
	m := Message{Position: Position{l.epoch, l.head}, Data: append([]byte(nil), data...)}
	if len(l.ring) < b.history {
		l.ring = append(l.ring, m)
	} else {
		l.ring[(l.head-1)%uint64(b.history)] = m
	}
	l.mu.Unlock()
	b.sink.Message(topic, m)
	return m.Position, nil
}

func (b *memoryBroker) History(_ context.Context, topic string, after uint64, limit int) (Log, error) {
	l := b.log(topic, false)
	if l == nil {
		return Log{}, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lg := Log{Head: Position{l.epoch, l.head}}
	oldest := l.head - uint64(len(l.ring)) + 1
	from := max(after+1, oldest)
	for o := from; o <= l.head && len(lg.Msgs) < limit; o++ {
		lg.Msgs = append(lg.Msgs, l.ring[(o-1)%uint64(b.history)])
	}
	return lg, nil
}

func (b *memoryBroker) Watch(topic string) {
	l := b.log(topic, false)
	if l == nil {
		// Nothing published yet. A publish that creates the log at this
		// moment may deliver its first message before this Head; the hub
		// keeps what comes before a topic's first Head and goes through
		// it afterwards, so offset 1 still follows the empty log.
		b.sink.Head(topic, Position{})
		return
	}
	l.deliver.Lock()
	defer l.deliver.Unlock()
	l.mu.Lock()
	p := Position{l.epoch, l.head}
	l.mu.Unlock()
	b.sink.Head(topic, p)
}

func (b *memoryBroker) Unwatch(string) {}

func (b *memoryBroker) Close() error { return nil }
