package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// pipeline publishes n messages to topic from c as fast as the
// connection takes them, while it reads the replies; it returns how many
// acks came, and the error that ended the reading, if any.
func pipeline(c *wsClient, topic string, n int, data string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	go func() {
		for i := range n {
			if c.c.Write(ctx, websocket.MessageText, fmt.Appendf(nil, `{"type":"publish","topic":%q,"data":"%d %s"}`, topic, i, data)) != nil {
				return
			}
		}
	}()
	acks := 0
	for acks < n {
		e, err := c.read(20 * time.Second)
		if err != nil {
			return acks, err
		}
		if e.Type != "ack" {
			return acks, fmt.Errorf("got %v, want an ack", e)
		}
		acks++
	}
	return acks, nil
}

// A publisher that pipelines its publishes and reads its acks is never
// dropped for the acks waiting for it: they slow it down instead.
func TestPipeliningPublisherNotDropped(t *testing.T) {
	s := memoryServer(t, 100)
	pub := dial(t, s)
	if acks, err := pipeline(pub, "t", 30000, "x"); err != nil {
		t.Fatalf("pipelining publisher: %d acks of 30000, then %v", acks, err)
	}
}

// Subscribers that read are not dropped under a burst of 2,000 messages of
// 4 KiB from four publishers, each as fast as its acks allow.
func TestReadingSubscribersBurst(t *testing.T) {
	s := memoryServer(t, 100)
	const n = 2000
	subs := make([]*wsClient, 3)
	for i := range subs {
		subs[i] = dial(t, s)
		subs[i].send(`{"type":"subscribe","topic":"burst"}`)
		subs[i].expect("subscribed")
	}
	var wg sync.WaitGroup
	errs := make([]error, len(subs))
	for i, c := range subs {
		wg.Go(func() {
			got := 0
			for got < n {
				e, err := c.read(20 * time.Second)
				if err != nil {
					errs[i] = fmt.Errorf("after %d of %d messages: %v", got, n, err)
					return
				}
				if e.Type != "message" || e.Offset != uint64(got+1) { // one log: the offsets follow
					errs[i] = fmt.Errorf("message %d: got %v", got+1, e)
					return
				}
				got++
			}
		})
	}
	// Four publishers of 500 each.
	var pubs sync.WaitGroup
	for range 4 {
		pub := dial(t, s)
		pubs.Go(func() {
			if acks, err := pipeline(pub, "burst", n/4, strings.Repeat("x", 4096)); err != nil {
				t.Errorf("publisher: %d acks of %d, then %v", acks, n/4, err)
			}
		})
	}
	pubs.Wait()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("subscriber %d: %v", i, err)
		}
	}
}
