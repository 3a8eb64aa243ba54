package main

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// memoryTopics is how many topics b holds.
func memoryTopics(b Broker) int {
	m := b.(*memoryBroker)
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.topics)
}

// One client publishing one message to each of many topics: the broker
// holds at most its bound of topics (the rest are refused with an error
// that says why), and its memory stays within the bound's budget.
func TestManyTopicsBounded(t *testing.T) {
	const limit, n = 1000, 3000
	s := memoryServer(t, defaultHistory, func(h *hub) { h.broker.(*memoryBroker).maxTopics = limit })
	c := dial(t, s)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	refused := 0
	for i := range n {
		c.send(`{"type":"publish","topic":"t%d","data":"%d"}`, i, i)
		switch e := c.next(); e.Type {
		case "ack":
		case "error":
			if !strings.Contains(e.Error, fmt.Sprintf("holds %d topics", limit)) {
				t.Fatalf("publish to a topic past the bound: %v", e)
			}
			refused++
		default:
			t.Fatalf("got %v", e)
		}
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if got := memoryTopics(s.h.broker); got > limit || refused != n-limit {
		t.Fatalf("after %d one-message topics: %d held, %d refused; want at most %d held", n, got, refused, limit)
	}
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d topics held: heap grew %d KiB (%d bytes a topic)", limit, grew>>10, grew/limit)
	if grew > limit*2048 {
		t.Fatalf("heap grew %d bytes for %d one-message topics: more than 2 KiB a topic", grew, limit)
	}
}

// A topic nobody publishes to or subscribes to for the idle time is
// forgotten, making room for new ones.
func TestIdleTopicsExpire(t *testing.T) {
	s := memoryServer(t, defaultHistory, func(h *hub) {
		b := h.broker.(*memoryBroker)
		b.maxTopics, b.idle = 2, 200*time.Millisecond
	})
	c := dial(t, s)
	c.publish("a", "1")
	c.publish("b", "1")
	c.send(`{"type":"publish","topic":"c","data":1}`)
	c.expect("error")
	waitFor(t, 5*time.Second, "idle topics to expire", func() bool {
		c.send(`{"type":"publish","topic":"c","data":1}`)
		return c.next().Type == "ack"
	})
}
