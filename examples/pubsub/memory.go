package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// memoryBroker is the in-process broker: one server, no other process
// needed. Its logs live as long as the server process, so a restart or an
// upgrade of the server starts new epochs.
type memoryBroker struct {
	sink    Sink
	history int // messages kept per topic

	// maxTopics bounds the logs held; a publish that would start one more
	// is refused. A log that nobody has published to or watched for idle
	// is forgotten (its epoch ends), making room. Fields, so that tests
	// can lower them.
	maxTopics    int
	idle         time.Duration
	historyBytes int // data kept per topic, beyond the newest message

	mu        sync.Mutex
	topics    map[string]*memoryLog
	watched   map[string]int // Watch calls not yet undone, per topic
	lastSweep time.Time
}

// Defaults of the in-process broker's bounds. A hostile client publishing
// one message to each of ever new topics makes the server hold at most
// defaultMaxTopics logs, about 0.5 KiB each with a short message (measured
// by TestManyTopicsBounded); a log holds at most maxHistoryBytes of data, so
// that the history of all topics stays within defaultMaxTopics ×
// maxHistoryBytes = 1.25 GiB even with large messages.
const (
	defaultMaxTopics = 10_000
	defaultTopicIdle = time.Hour
	maxHistoryBytes  = 128 << 10
)

// errTooManyTopics is Publish's error for a topic past maxTopics.
var errTooManyTopics = errors.New("too many topics")

type memoryLog struct {
	// deliver is held while the sink hears of the log (Head or Message),
	// so that it hears in log order; mu guards the log itself, so that
	// History (which the sink may call) never waits for a delivery.
	deliver sync.Mutex

	mu    sync.Mutex
	epoch string
	head  uint64
	msgs  []Message // the kept messages, oldest first
	bytes int       // data in msgs
	used  time.Time // last publish or watch; guarded by memoryBroker.mu
}

func newMemoryBroker(history int, sink Sink) *memoryBroker {
	return &memoryBroker{sink: sink, history: history, maxTopics: defaultMaxTopics, idle: defaultTopicIdle, historyBytes: maxHistoryBytes,
		topics: make(map[string]*memoryLog), watched: make(map[string]int)}
}

// log returns topic's log; create makes it when there is none yet, or
// returns errTooManyTopics. A log found is marked used.
func (b *memoryBroker) log(topic string, create bool) (*memoryLog, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	l := b.topics[topic]
	if l == nil && create {
		if len(b.topics) >= b.maxTopics || now.Sub(b.lastSweep) > b.idle/4 {
			b.sweep(now)
		}
		if len(b.topics) >= b.maxTopics {
			return nil, errTooManyTopics
		}
		// The log exists from the first publish on, not from a subscribe:
		// a client subscribing to made-up names must not cost memory.
		// Its slice grows with the messages kept, not ahead of them.
		l = &memoryLog{epoch: newEpoch()}
		b.topics[topic] = l
	}
	if l != nil {
		l.used = now
	}
	return l, nil
}

// sweep forgets the logs idle for b.idle that nobody watches; b.mu is
// held. At most once a second: a client publishing to ever new topics at
// the bound must not make every publish go through all the topics.
func (b *memoryBroker) sweep(now time.Time) {
	if now.Sub(b.lastSweep) < min(time.Second, b.idle/4) {
		return
	}
	b.lastSweep = now
	for name, l := range b.topics {
		if b.watched[name] == 0 && now.Sub(l.used) >= b.idle {
			delete(b.topics, name)
		}
	}
}

func (b *memoryBroker) Publish(_ context.Context, topic string, data []byte) (Position, error) {
	l, err := b.log(topic, true)
	if err != nil {
		return Position{}, fmt.Errorf("%w: this server holds %d topics, the most it may (a topic is forgotten after %v without publishes or subscribers); publish to an existing topic, or later", err, b.maxTopics, b.idle)
	}
	l.deliver.Lock()
	defer l.deliver.Unlock()
	l.mu.Lock()
	l.head++
	m := Message{Position: Position{l.epoch, l.head}, Data: append([]byte(nil), data...)}
	l.msgs = append(l.msgs, m)
	l.bytes += len(m.Data)
	drop := 0
	for len(l.msgs)-drop > b.history || len(l.msgs)-drop > 1 && l.bytes > b.historyBytes {
		l.bytes -= len(l.msgs[drop].Data)
		l.msgs[drop] = Message{}
		drop++
	}
	if drop > 0 {
		l.msgs = l.msgs[drop:]
		if cap(l.msgs) > 2*len(l.msgs)+16 {
			l.msgs = append([]Message(nil), l.msgs...) // give back what the trimmed front held
		}
	}
	l.mu.Unlock()
	b.sink.Message(topic, m)
	return m.Position, nil
}

func (b *memoryBroker) History(_ context.Context, topic string, after uint64, limit int) (Log, error) {
	b.mu.Lock()
	l := b.topics[topic]
	b.mu.Unlock()
	if l == nil {
		return Log{}, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lg := Log{Head: Position{l.epoch, l.head}}
	oldest := l.head - uint64(len(l.msgs)) + 1
	from := max(after+1, oldest)
	for o := from; o <= l.head && len(lg.Msgs) < limit; o++ {
		lg.Msgs = append(lg.Msgs, l.msgs[o-oldest])
	}
	return lg, nil
}

func (b *memoryBroker) Watch(topic string) {
	b.mu.Lock()
	b.watching(topic, 1)
	l := b.topics[topic]
	b.mu.Unlock()
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

func (b *memoryBroker) Unwatch(topic string) {
	b.mu.Lock()
	b.watching(topic, -1)
	b.mu.Unlock()
}

// watching counts a Watch (+1) or Unwatch (-1) of topic; b.mu is held.
// A watched topic is never forgotten: its subscribers would see its log
// end.
func (b *memoryBroker) watching(topic string, d int) {
	if n := b.watched[topic] + d; n > 0 {
		b.watched[topic] = n
	} else {
		delete(b.watched, topic)
	}
	if l := b.topics[topic]; l != nil {
		l.used = time.Now()
	}
}

func (b *memoryBroker) Close() error { return nil }
