package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Redis stopped and restarted under two pubsub servers behind one nginx,
// while a publisher on each keeps publishing to one topic that a
// subscriber on each server follows. redis-server is killed (as a crash
// or an OOM kill would) and started again, empty, on the same port:
//   - while it is down, every publish is answered with an error that says
//     the message was not published and to publish again;
//   - no server crashes and nobody is disconnected: the subscribers'
//     WebSockets through nginx are the same ones before and after;
//   - once it is back, publishing works again and delivery resumes on
//     both servers;
//   - what each subscriber gets keeps the order: the old log's messages
//     from offset 1 without a gap, one missed event saying that log is
//     gone, then the new log from offset 1 without a gap up to the last
//     message published; each publisher's messages in the order it
//     published them, none twice.
func TestPubsubRedisRestartThroughNginx(t *testing.T) {
	redis := runRedis(t)
	dir := sharedDir(t)
	socketA, socketB := filepath.Join(dir, "pubsub-a.socket"), filepath.Join(dir, "pubsub-b.socket")
	flags := []string{"-broker", "redis://" + redis.addr(), "-stats", "0"}
	startServer(t, "pubsub a", pubsubBin, socketA, flags)
	startServer(t, "pubsub b", pubsubBin, socketB, flags)
	site := "127.0.0.1:" + freePort(t)
	conf := generated(t, "nginx", "pubsub", "--socket", socketA, "--listen", site, "--location", "/a")
	conf = withLocation(t, conf, secondLocation(t, conf, "/a", "/b", socketA, socketB))
	startNginx(t, conf, site)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	subs := []*subscriber{followTopic(t, ctx, site, "/a", "t"), followTopic(t, ctx, site, "/b", "t")}
	pubs := []*publisher{keepPublishing(t, ctx, site, "/a", "t"), keepPublishing(t, ctx, site, "/b", "t")}

	// Up: both publishers' messages reach both subscribers.
	waitUntil(t, "20 acks for each publisher", func() bool { return pubs[0].acks() >= 20 && pubs[1].acks() >= 20 })
	var before int64
	for _, p := range pubs {
		before = max(before, p.lastAck().Offset)
	}
	waitUntil(t, "both subscribers at offset "+fmt.Sprint(before), func() bool {
		return subs[0].lastOffset() >= before && subs[1].lastOffset() >= before
	})
	epoch := pubs[0].lastAck().Epoch

	// Down: publishes fail, with a message that says what to do.
	redis.kill(t)
	errs := make([]int, len(pubs))
	for i, p := range pubs {
		errs[i] = p.errors()
	}
	waitUntil(t, "10 refused publishes for each publisher", func() bool {
		return pubs[0].errors() >= errs[0]+10 && pubs[1].errors() >= errs[1]+10
	})
	for _, p := range pubs {
		e := p.lastError()
		if !strings.Contains(e.Error, "not published: redis at "+redis.addr()) || !strings.Contains(e.Error, "publish again once the broker is back") {
			t.Fatalf("publish on %s while Redis is down: got %+v, want an error that says it was not published and to publish again", p.path, e)
		}
	}

	// Back, empty: publishing resumes on both servers, and so does delivery.
	redis.start(t)
	acks := []int{pubs[0].acks(), pubs[1].acks()}
	waitUntil(t, "20 more acks for each publisher after Redis restarted", func() bool {
		return pubs[0].acks() >= acks[0]+20 && pubs[1].acks() >= acks[1]+20
	})
	for _, p := range pubs {
		p.stop()
	}
	var last int64
	for _, p := range pubs {
		if a := p.lastAck(); a.Epoch == epoch {
			t.Fatalf("%s: the last ack has the old epoch %s: Redis came back empty, a new log should have begun", p.path, epoch)
		} else {
			last = max(last, a.Offset)
		}
	}
	waitUntil(t, "both subscribers at offset "+fmt.Sprint(last)+" of the new log", func() bool {
		return subs[0].lastOffset() >= last && subs[1].lastOffset() >= last && subs[0].epoch() != epoch && subs[1].epoch() != epoch
	})
	for _, s := range subs {
		s.check(t, epoch, before, last, pubs)
	}
	for _, p := range pubs {
		t.Logf("publisher %s: %d acked, %d refused while Redis was down", p.path, p.acks(), p.errors())
	}
	for _, s := range subs {
		if err := s.err(); err != nil {
			t.Fatalf("subscriber %s: %v (its WebSocket through nginx did not stay open)", s.path, err)
		}
	}
}

// waitUntil polls ok for 30 s at most.
func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 30 s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// publisher publishes {"from": path, "n": 0, 1, 2…} to a topic through
// nginx, one at a time, each answered with an ack or an error, until
// stopped. A refused message is not sent again: n goes on.
type publisher struct {
	path    string
	mu      sync.Mutex
	acked   []event
	refused []event
	halt    chan struct{}
	done    chan struct{}
	fail    error
}

func keepPublishing(t *testing.T, ctx context.Context, site, path, topic string) *publisher {
	c := dialPubsub(t, site, path)
	p := &publisher{path: path, halt: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for n := 0; ; n++ {
			select {
			case <-p.halt:
				return
			default:
			}
			if err := c.send(ctx, map[string]any{"type": "publish", "topic": topic, "data": map[string]any{"from": path, "n": n}}); err != nil {
				p.fail = err
				return
			}
			e, err := c.next(ctx, "ack", "error")
			if err != nil {
				p.fail = err
				return
			}
			p.mu.Lock()
			if e.Type == "ack" {
				p.acked = append(p.acked, e)
			} else {
				p.refused = append(p.refused, e)
			}
			p.mu.Unlock()
			if e.Type == "error" {
				time.Sleep(20 * time.Millisecond) // Redis is down: no busy loop
			}
		}
	}()
	t.Cleanup(p.stop)
	return p
}

func (p *publisher) stop() {
	select {
	case <-p.halt:
	default:
		close(p.halt)
	}
	<-p.done
}

func (p *publisher) acks() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.acked)
}

func (p *publisher) errors() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.refused)
}

func (p *publisher) lastAck() event {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.acked) == 0 {
		return event{}
	}
	return p.acked[len(p.acked)-1]
}

func (p *publisher) lastError() event {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.refused) == 0 {
		return event{}
	}
	return p.refused[len(p.refused)-1]
}

// subscriber follows a topic through nginx and keeps every message and
// missed event.
type subscriber struct {
	path   string
	mu     sync.Mutex
	events []event
	rerr   error
}

func followTopic(t *testing.T, ctx context.Context, site, path, topic string) *subscriber {
	c := dialPubsub(t, site, path)
	c.subscribe(t, topic)
	s := &subscriber{path: path}
	go func() {
		for {
			e, err := c.next(ctx, "message", "missed")
			s.mu.Lock()
			if err != nil {
				if ctx.Err() == nil {
					s.rerr = err
				}
				s.mu.Unlock()
				return
			}
			s.events = append(s.events, e)
			s.mu.Unlock()
		}
	}()
	return s
}

func (s *subscriber) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rerr
}

func (s *subscriber) lastOffset() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.events) == 0 {
		return 0
	}
	return s.events[len(s.events)-1].Offset
}

func (s *subscriber) epoch() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.events) == 0 {
		return ""
	}
	return s.events[len(s.events)-1].Epoch
}

// check checks what the subscriber got: the old log (epoch old) from
// offset 1 without a gap, at least up to upTo; one missed event saying
// that log is gone; the new log from offset 1 without a gap up to last.
// Each publisher's messages come in the order it published them, none
// twice, and each of them is one that publisher had acknowledged.
func (s *subscriber) check(t *testing.T, old string, upTo, last int64, pubs []*publisher) {
	t.Helper()
	s.mu.Lock()
	events := append([]event(nil), s.events...)
	s.mu.Unlock()
	acked := map[string]bool{} // from/n of every acknowledged message
	for _, p := range pubs {
		p.mu.Lock()
		for _, a := range p.acked {
			acked[fmt.Sprintf("%s/%s/%d", p.path, a.Epoch, a.Offset)] = true
		}
		p.mu.Unlock()
	}
	next := map[string]int{} // each publisher's next n at least
	epoch, offset, missed := old, int64(0), 0
	var oldEnd int64
	var gone event
	for i, e := range events {
		where := fmt.Sprintf("subscriber %s, event %d of %d (%s %s offset %d)", s.path, i, len(events), e.Type, e.Epoch, e.Offset)
		if e.Type == "missed" {
			missed++
			if missed > 1 || epoch != old || e.Epoch == old || e.Offset != 0 || !strings.Contains(e.Reason, "the log of epoch "+old+" is gone") {
				t.Fatalf("%s: %q; want one missed event, after the old log, that says the old log is gone and a new one begins", where, e.Reason)
			}
			if offset < upTo {
				t.Fatalf("%s: the old log ended at offset %d, but offset %d was delivered before Redis stopped", where, offset, upTo)
			}
			// The missed event names the new log when the server
			// learnt of it first from a message; when it learnt first
			// that Redis has no log for the topic, the epoch is empty,
			// and the next message begins the new log.
			epoch, offset, oldEnd, gone = e.Epoch, 0, offset, e
			continue
		}
		if epoch == "" && e.Offset == 1 {
			epoch = e.Epoch
		}
		if e.Epoch != epoch || e.Offset != offset+1 {
			t.Fatalf("%s: want epoch %s offset %d: a gap, a repeat or a reorder", where, epoch, offset+1)
		}
		offset = e.Offset
		var d struct {
			From string `json:"from"`
			N    int    `json:"n"`
		}
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatalf("%s: %v: %s", where, err, e.Data)
		}
		if d.N < next[d.From] {
			t.Fatalf("%s: %s's message %d after its %d: out of the order it published them in, or twice", where, d.From, d.N, next[d.From]-1)
		}
		next[d.From] = d.N + 1
		if epoch != old && !acked[fmt.Sprintf("%s/%s/%d", d.From, e.Epoch, e.Offset)] {
			t.Fatalf("%s: %s's message %d was never acknowledged at that position", where, d.From, d.N)
		}
	}
	if missed != 1 || offset != last {
		t.Fatalf("subscriber %s: %d missed events, the new log delivered up to offset %d; want 1, and offset %d", s.path, missed, offset, last)
	}
	t.Logf("subscriber %s: %d events, in order: the old log up to its offset %d (%d delivered before Redis stopped), missed (epoch %q), the new log up to %d",
		s.path, len(events), oldEnd, upTo, gone.Epoch, last)
}
