package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/redis/go-redis/v9"
)

// redisPubsub is a pubsub server in this process sharing topics through r.
func redisPubsub(t *testing.T, r *redisServer, history int, tune ...func(*hub)) *server {
	return startServer(t, func(h *hub) Broker {
		b, err := newRedisBroker(r.url(), history, h, testLogger())
		if err != nil {
			t.Fatal(err)
		}
		return b
	}, tune...)
}

// Two servers sharing Redis: what is published on either reaches the
// subscribers of both, in one order, with the offsets the acks gave.
func TestRedisCrossServer(t *testing.T) {
	r := startRedis(t)
	a, b := redisPubsub(t, r, 1000), redisPubsub(t, r, 1000)
	subA, subB, pubA, pubB := dial(t, a), dial(t, b), dial(t, a), dial(t, b)
	for _, c := range []*wsClient{subA, subB} {
		c.send(`{"type":"subscribe","topic":"t"}`)
		c.expect("subscribed")
	}
	epoch := pubA.publish("t", `"0 first"`).Epoch
	for _, c := range []*wsClient{subA, subB} {
		c.messages("t", epoch, 0, 1)
	}

	const n = 50
	type result struct {
		offsets []uint64
		err     error
	}
	results := make(chan result, 2)
	for _, p := range []struct {
		c   *wsClient
		tag string
	}{{pubA, "A"}, {pubB, "B"}} {
		go func() {
			offs, err := publishTagged(p.c.c, "t", p.tag, n)
			results <- result{offs, err}
		}()
	}
	gotA := subA.messages("t", epoch, 1, 2*n)
	gotB := subB.messages("t", epoch, 1, 2*n)
	if joined(gotA) != joined(gotB) {
		t.Fatalf("the servers' subscribers got different orders:\n%v\n%v", gotA, gotB)
	}
	// Each publisher's messages keep its order, at the offsets its acks said.
	for range 2 {
		res := <-results
		if res.err != nil {
			t.Fatal(res.err)
		}
		for i, off := range res.offsets {
			d := gotA[off-2] // gotA starts at offset 2
			if !strings.HasPrefix(d, fmt.Sprintf(`"%d `, i+1)) {
				t.Fatalf("offset %d (acked for a publisher's message %d): got %s", off, i+1, d)
			}
		}
	}
}

// publishTagged publishes "i tag" for i in 1..n, waiting for each ack,
// and returns the acks' offsets, which must grow.
func publishTagged(c *websocket.Conn, topic, tag string, n int) ([]uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var offs []uint64
	for i := 1; i <= n; i++ {
		msg := fmt.Sprintf(`{"type":"publish","topic":%q,"data":"%d %s"}`, topic, i, tag)
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			return nil, err
		}
		_, b, err := c.Read(ctx)
		if err != nil {
			return nil, err
		}
		var e event
		if json.Unmarshal(b, &e); e.Type != "ack" || len(offs) > 0 && e.Offset <= offs[len(offs)-1] {
			return nil, fmt.Errorf("publisher %s, message %d: got %s", tag, i, b)
		}
		offs = append(offs, e.Offset)
	}
	return offs, nil
}

// Redis dies and comes back empty: nothing crashes, publishers are told,
// subscribers stay connected and get the messages published afterwards,
// after a missed event that says the old log is gone.
func TestRedisOutage(t *testing.T) {
	r := startRedis(t)
	a, b := redisPubsub(t, r, 1000), redisPubsub(t, r, 1000)
	subA, subB, pubA, pubB := dial(t, a), dial(t, b), dial(t, a), dial(t, b)
	for _, c := range []*wsClient{subA, subB} {
		c.send(`{"type":"subscribe","topic":"t"}`)
		c.expect("subscribed")
	}
	old := pubA.publish("t", `"before"`).Epoch
	for _, c := range []*wsClient{subA, subB} {
		c.messages("t", old, 0, 1)
	}

	r.kill()
	for _, p := range []*wsClient{pubA, pubB} {
		p.send(`{"type":"publish","topic":"t","data":"during","id":9}`)
		e := p.expect("error")
		if string(e.ID) != "9" || !strings.Contains(e.Error, "not published: redis at "+r.addr()) ||
			!strings.Contains(e.Error, "publish again once the broker is back") {
			t.Fatalf("publish while Redis is down: got %v", e)
		}
	}
	for _, s := range []*server{a, b} {
		if n := s.h.subscribers("t"); n != 1 {
			t.Fatalf("while Redis is down: %d subscribers, want 1", n)
		}
	}

	r.start() // same port, nothing kept
	var ack event
	waitFor(t, 20*time.Second, "a publish to succeed after Redis restarted", func() bool {
		pubA.send(`{"type":"publish","topic":"t","data":"after 1"}`)
		ack = pubA.next()
		if ack.Type != "ack" && ack.Type != "error" {
			t.Fatalf("publish: got %v", ack)
		}
		return ack.Type == "ack"
	})
	if ack.Epoch == old || ack.Offset != 1 {
		t.Fatalf("first publish after Redis lost everything: got %v, want a new epoch and offset 1", ack)
	}
	pubB.publish("t", `"after 2"`)
	pubA.publish("t", `"after 3"`)
	for _, c := range []*wsClient{subA, subB} {
		if e := c.expect("missed"); !strings.Contains(e.Reason, "the log of epoch "+old+" is gone") {
			t.Fatalf("after Redis restarted: got %v, want missed saying the old log is gone", e)
		}
		if got := joined(c.messages("t", ack.Epoch, 0, 3)); got != `"after 1" "after 2" "after 3"` {
			t.Fatalf("after Redis restarted: got %s", got)
		}
	}
}

// A client resuming on another server than the one it was on is replayed
// from Redis's stream; one that comes back too late is told it missed.
func TestRedisResume(t *testing.T) {
	r := startRedis(t)
	a, b := redisPubsub(t, r, 3), redisPubsub(t, r, 3)
	pub := dial(t, a)
	var epoch string
	for i := 1; i <= 5; i++ {
		epoch = pub.publish("t", fmt.Sprint(i)).Epoch
	}
	c := dial(t, b)
	c.send(`{"type":"subscribe","topic":"t","epoch":%q,"offset":2}`, epoch)
	c.expect("subscribed")
	if got := joined(c.messages("t", epoch, 2, 3)); got != "3 4 5" {
		t.Fatalf("replay from Redis: got %s", got)
	}
	pub.publish("t", "6")
	if got := joined(c.messages("t", epoch, 5, 1)); got != "6" {
		t.Fatalf("live after the replay: got %s", got)
	}

	late := dial(t, b)
	late.send(`{"type":"subscribe","topic":"t","epoch":%q,"offset":1}`, epoch)
	late.expect("subscribed")
	if e := late.expect("missed"); e.Offset != 6 || !strings.Contains(e.Reason, "the oldest kept is 4") {
		t.Fatalf("resume past the history: got %v", e)
	}
}

// When a server's subscription connection to Redis breaks while Redis
// stays up, what was published meanwhile comes from the stream: every
// message once, in order, and nothing reported missed.
func TestRedisResubscribeFillsGap(t *testing.T) {
	r := startRedis(t)
	a, b := redisPubsub(t, r, 1000), redisPubsub(t, r, 1000)
	sub, pub := dial(t, a), dial(t, b)
	sub.send(`{"type":"subscribe","topic":"t"}`)
	sub.expect("subscribed")
	rc := redis.NewClient(&redis.Options{Addr: r.addr(), DisableIdentity: true})
	defer rc.Close()

	var epoch string
	n := 0
	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := rc.ClientKillByFilter(ctx, "TYPE", "pubsub").Err(); err != nil {
			t.Fatal(err)
		}
		cancel()
		for range 20 {
			n++
			epoch = pub.publish("t", fmt.Sprint(n)).Epoch
		}
	}
	got := sub.messages("t", epoch, 0, n) // fails on a missed event or a gap
	if got[n-1] != fmt.Sprint(n) {
		t.Fatalf("last message: got %s", got[n-1])
	}
}

// A subscribe to a topic the server does not follow yet needs Redis: while
// it is down, the client is told after hub.readyTimeout and may try again.
func TestRedisSubscribeWhileDown(t *testing.T) {
	r := startRedis(t)
	s := redisPubsub(t, r, 100, func(h *hub) { h.readyTimeout = 300 * time.Millisecond })
	c := dial(t, s)
	r.kill()
	c.send(`{"type":"subscribe","topic":"t","id":1}`)
	if e := c.expect("error"); string(e.ID) != "1" || !strings.Contains(e.Error, "not subscribed: the broker has not answered") {
		t.Fatalf("subscribe while Redis is down: got %v", e)
	}
	if n := s.h.subscribers("t"); n != 0 {
		t.Fatalf("after the failed subscribe: %d subscribers", n)
	}
	r.start()
	waitFor(t, 20*time.Second, "a subscribe to succeed after Redis restarted", func() bool {
		c.send(`{"type":"subscribe","topic":"t"}`)
		return c.next().Type == "subscribed"
	})
	pub := dial(t, s)
	e := pub.publish("t", `"hello"`)
	if got := joined(c.messages("t", e.Epoch, 0, 1)); got != `"hello"` {
		t.Fatalf("got %s", got)
	}
}

// A topic's keys in Redis expire a day after its last publish.
func TestRedisTopicTTL(t *testing.T) {
	r := startRedis(t)
	s := redisPubsub(t, r, 10)
	c := dial(t, s)
	c.publish("t", "1")
	rdb := redis.NewClient(&redis.Options{Addr: r.addr(), DisableIdentity: true})
	defer rdb.Close()
	for _, k := range []string{metaKey("t"), logKey("t")} {
		ttl, err := rdb.TTL(context.Background(), k).Result()
		if err != nil || ttl <= 23*time.Hour || ttl > redisTopicTTL {
			t.Fatalf("TTL of %s: got %v, %v; want about %v", k, ttl, err, redisTopicTTL)
		}
	}
}
