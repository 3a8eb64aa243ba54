package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// dropStatus is the close code a dropped subscriber reads: 1008, "too slow".
const dropStatus = websocket.StatusPolicyViolation

// A subscriber that does not read is dropped once its queue is full; the
// other subscriber gets every message and the publisher never waits.
func TestSlowSubscriberDropped(t *testing.T) {
	s := memoryServer(t, 100)
	slow, fast, pub := dial(t, s), dial(t, s), dial(t, s)
	for _, c := range []*wsClient{slow, fast} {
		c.send(`{"type":"subscribe","topic":"t"}`)
		c.expect("subscribed")
	}
	payload := strings.Repeat("x", 1024)
	var epoch string
	n := 0
	deadline := time.Now().Add(60 * time.Second)
	// slow never reads: its socket buffers fill, then its 200-frame queue,
	// and the next message drops it.
	for s.h.subscribers("t") == 2 {
		if n == 20000 || time.Now().After(deadline) {
			t.Fatalf("after %d messages the subscriber that does not read is still there", n)
		}
		n++
		epoch = pub.publish("t", fmt.Sprintf(`"%d %s"`, n, payload)).Epoch
		fast.messages("t", epoch, uint64(n-1), 1)
	}
	t.Logf("dropped after %d messages of 1 KiB", n)
	for range 10 {
		n++
		pub.publish("t", fmt.Sprintf(`"%d %s"`, n, payload))
		fast.messages("t", epoch, uint64(n-1), 1)
	}

	// What reached slow's socket before the drop is there, in order; then
	// the connection ends.
	got := 0
	for {
		e, err := slow.read(10 * time.Second)
		if err != nil {
			if st := websocket.CloseStatus(err); st != dropStatus || errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("dropped subscriber: got %v (status %d), want status %d", err, st, dropStatus)
			}
			if ce := (websocket.CloseError{}); !errors.As(err, &ce) || ce.Reason != tooSlow {
				t.Fatalf("dropped subscriber: close reason %q, want %q", ce.Reason, tooSlow)
			}
			break
		}
		got++
		if e.Type != "message" || e.Offset != uint64(got) {
			t.Fatalf("dropped subscriber's message %d: got %v", got, e)
		}
	}
	if got == 0 || got >= n-10 {
		t.Fatalf("dropped subscriber read %d messages, want some but fewer than the %d before the drop", got, n-10)
	}
}

// A resuming client that does not read its replay is dropped once the
// replay has waited hub.replayWait for room; others are served meanwhile.
func TestSlowReplayDropped(t *testing.T) {
	// One message per history event: 3,000 frames of 1 KiB, more than
	// the socket's buffers, dorrit's queue and the client's outbox hold.
	const n = 3000
	s := memoryServer(t, n, func(h *hub) {
		h.replayBytes, h.replayWait = 1, 300*time.Millisecond
		h.broker.(*memoryBroker).historyBytes = 8 << 20
	})
	pub := dial(t, s)
	payload := strings.Repeat("x", 1024)
	var epoch string
	for i := 1; i <= n; i++ {
		epoch = pub.publish("t", fmt.Sprintf(`"%d %s"`, i, payload)).Epoch
	}
	slow := dial(t, s)
	slow.send(`{"type":"subscribe","topic":"t","epoch":%q,"offset":0}`, epoch)
	slow.expect("subscribed") // and no more
	waitFor(t, 10*time.Second, "the replay's client to be dropped", func() bool {
		return s.h.subscribers("t") == 0
	})

	// Meanwhile and afterwards, a client that reads gets its replay.
	fast := dial(t, s)
	fast.send(`{"type":"subscribe","topic":"t","epoch":%q,"offset":500}`, epoch)
	fast.expect("subscribed")
	fast.messages("t", epoch, 500, n-500)

	got := 0
	for {
		e, err := slow.read(10 * time.Second)
		if err != nil {
			if st := websocket.CloseStatus(err); st != dropStatus || errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("dropped client: got %v (status %d), want status %d", err, st, dropStatus)
			}
			if ce := (websocket.CloseError{}); !errors.As(err, &ce) || ce.Reason != tooSlow {
				t.Fatalf("dropped client: close reason %q, want %q", ce.Reason, tooSlow)
			}
			break
		}
		if e.Type == "history" {
			got += len(e.Messages)
		}
	}
	if got == 0 || got >= n {
		t.Fatalf("dropped client read %d replayed messages, want some but not all %d", got, n)
	}
}
