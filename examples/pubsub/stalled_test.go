package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a log destination that the test reads while the server
// writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A subscriber that stalls (reads nothing for longer than the 2 s a
// dropped connection lingers) is dropped, and the drop is logged with what
// it had waiting. When it reads again it gets what its socket held, in
// order, and then the end of the connection: the close frame could not
// reach it while it did not read (the README says so).
func TestStalledSubscriber(t *testing.T) {
	var logs lockedBuffer
	s := memoryServer(t, 100, func(h *hub) { h.log = slog.New(slog.NewTextHandler(&logs, nil)) })
	stalled, pub := dial(t, s), dial(t, s)
	stalled.send(`{"type":"subscribe","topic":"t"}`)
	stalled.expect("subscribed")
	payload := strings.Repeat("x", 1024)
	n := 0
	for s.h.subscribers("t") == 1 {
		if n == 20000 {
			t.Fatalf("after %d messages the stalled subscriber is still there", n)
		}
		n++
		pub.publish("t", fmt.Sprintf(`"%d %s"`, n, payload))
	}
	t.Logf("dropped after %d messages of 1 KiB", n)
	line := ""
	waitFor(t, 5*time.Second, "the drop's log line", func() bool {
		for l := range strings.SplitSeq(logs.String(), "\n") {
			if strings.Contains(l, "dropping a client") {
				line = l
				return true
			}
		}
		return false
	})
	for _, want := range []string{"events_waiting=", "event_bytes_waiting=", "replies_waiting=", "reason=\"too slow\""} {
		if !strings.Contains(line, want) {
			t.Fatalf("drop logged as %q, want %s", line, want)
		}
	}
	t.Log(line)

	// Past the linger, the subscriber reads again.
	time.Sleep(3 * time.Second)
	got := 0
	for {
		e, err := stalled.read(10 * time.Second)
		if err != nil {
			t.Logf("read %d messages, then %v", got, err)
			break
		}
		got++
		if e.Type != "message" || e.Offset != uint64(got) {
			t.Fatalf("stalled subscriber's message %d: got %v", got, e)
		}
	}
	if got == 0 || got >= n {
		t.Fatalf("stalled subscriber read %d messages, want some but fewer than the %d published", got, n)
	}
}
