package integration

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// SIGTERM through each front server: subscribers of the pubsub example
// that do not read have 150 messages of 60 KiB each waiting for them
// (9 MiB a subscriber); the publisher has had every message acknowledged,
// so each is queued by the time the server gets SIGTERM. Then the
// subscribers read: each gets all 150, in order, and then dorrit's close
// 1001 (going away), which the front server passes on; the server process
// has exited within its 10 s drain. Most of it is still in dorrit's
// queues at SIGTERM, not in the socket buffers on the way: with the drain
// cut to nothing (Shutdown with an expired context), the subscribers got
// 68 or 69 of the 150 (Caddy: up to 97) and then EOF, with no close frame.
func TestFrontsSIGTERM(t *testing.T) {
	const (
		subscribers = 3
		messages    = 150      // below the 200 frames a connection may queue
		size        = 60 << 10 // near the largest message, 65535 bytes with the JSON around it
	)
	for _, f := range fronts {
		t.Run(f.name, func(t *testing.T) {
			socket := filepath.Join(sharedDir(t), "pubsub.socket")
			server := startServer(t, "pubsub", pubsubBin, socket, nil, "PUBSUB_STATS_EVERY=0")
			conf, listen := frontConfig(t, f, "pubsub", socket)
			f.start(t, conf, listen)

			subs := make([]*pubsubClient, subscribers)
			for i := range subs {
				subs[i] = dialPubsub(t, listen, "/ws")
				subs[i].subscribe(t, "drain")
			}
			pub := dialPubsub(t, listen, "/ws")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			pad := strings.Repeat("x", size)
			for i := range messages {
				if err := pub.publish(ctx, "drain", fmt.Sprintf("%d %s", i, pad)); err != nil {
					t.Fatalf("publish %d: %v", i, err)
				}
			}

			start := time.Now()
			if err := server.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			results := make(chan error, subscribers)
			for _, sub := range subs {
				go func() { results <- readAllThenGoingAway(ctx, sub, messages) }()
			}
			for i := range subscribers {
				if err := <-results; err != nil {
					t.Errorf("subscriber %d: %v", i, err)
				}
			}
			if _, err := pub.next(ctx, "message"); websocket.CloseStatus(err) != websocket.StatusGoingAway {
				t.Errorf("publisher: %v, want close 1001", err)
			}
			select {
			case <-server.done:
			case <-time.After(15 * time.Second):
				t.Fatal("the server has not exited 15 s after SIGTERM")
			}
			if t.Failed() {
				return
			}
			t.Logf("%d subscribers read %d messages of %d KiB each, then 1001, %v after SIGTERM",
				subscribers, messages, size>>10, time.Since(start).Round(time.Millisecond))
		})
	}
}

// readAllThenGoingAway reads n messages of the topic drain with offsets
// 1..n and data "i xxx…", then expects the close 1001. It looks for the
// offset and the data's start in the JSON text rather than decode 60 KiB
// strings: under -race, decoding them took longer than the server's 10 s
// drain.
func readAllThenGoingAway(ctx context.Context, sub *pubsubClient, n int) error {
	for i := range n {
		_, msg, err := sub.c.Read(ctx)
		if err != nil {
			return fmt.Errorf("after %d of %d messages: %w (close code %d)", i, n, err, websocket.CloseStatus(err))
		}
		if !bytes.Contains(msg, []byte(`"type":"message"`)) ||
			!bytes.Contains(msg, fmt.Appendf(nil, `"offset":%d,`, i+1)) ||
			!bytes.Contains(msg, fmt.Appendf(nil, `"data":"%d x`, i)) {
			return fmt.Errorf("message %d of %d: %.100s…: want offset %d and data \"%d x…\"", i+1, n, msg, i+1, i)
		}
	}
	_, _, err := sub.c.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusGoingAway {
		return fmt.Errorf("after all %d messages: %v (close code %d), want close 1001", n, err, websocket.CloseStatus(err))
	}
	return nil
}
