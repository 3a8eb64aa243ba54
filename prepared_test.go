package dorrit_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/internal/wstest"
)

// A prepared message reaches every connection whole, fragmented at each
// listener's BufferSize, and keeps Write's rules: the 200-frame bound with
// nothing lost, and delivery before a graceful close.
func TestWritePreparedKeepsTheRules(t *testing.T) {
	serveInto := func(o dorrit.Options) (*dorrit.Listener, chan *dorrit.MessageConn) {
		conns := make(chan *dorrit.MessageConn, 1)
		return serve(t, o, func(c *dorrit.MessageConn) {
			c.CloseRead(context.Background())
			conns <- c
		}), conns
	}
	small, smallConns := serveInto(dorrit.Options{BufferSize: 105}) // fragments of 100 bytes
	large, largeConns := serveInto(dorrit.Options{})
	a, b := dialRaw(t, small), dialRaw(t, large)
	ca, cb := <-smallConns, <-largeConns

	msg := strings.Repeat("é", 125) // 250 bytes
	pm := dorrit.NewPreparedMessage([]byte(msg))
	for _, c := range []*dorrit.MessageConn{ca, cb} {
		if err := c.WritePrepared(pm); err != nil {
			t.Fatal(err)
		}
	}
	frames, err := a.ReadFragments()
	if err != nil || len(frames) != 3 || len(frames[0].Payload) != 100 {
		t.Fatalf("at BufferSize 105: %d frames (%v), want 3 of at most 100 bytes", len(frames), err)
	}
	if _, got, err := b.ReadMessage(); err != nil || string(got) != msg {
		t.Fatalf("at the default BufferSize: %q %v", got, err)
	}
	if err := cb.WritePrepared(dorrit.NewPreparedMessage([]byte{'a', 0xc0, 0x80})); !errors.Is(err, dorrit.ErrInvalidUTF8) {
		t.Fatalf("prepared message with an overlong encoding: %v, want ErrInvalidUTF8", err)
	}

	// b reads nothing now: the queue fills, then refuses; nothing is lost.
	one := dorrit.NewPreparedMessage(numbered(0))
	n := 0
	for ; n <= 10*dorrit.MaxQueuedFrames; n++ {
		err := cb.WritePrepared(one)
		if errors.Is(err, dorrit.ErrQueueFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if n > 10*dorrit.MaxQueuedFrames {
		t.Fatal("WritePrepared never refused a client that reads nothing")
	}
	closed := make(chan error, 1)
	go func() { closed <- cb.Close() }()
	for i := range n {
		if _, got, err := b.ReadMessage(); err != nil || string(got) != string(numbered(0)) {
			t.Fatalf("prepared message %d of %d: %.6q %v", i, n, got, err)
		}
	}
	var ce *wstest.CloseFrameError
	if _, _, err := b.ReadMessage(); !errors.As(err, &ce) || ce.Code != 1000 {
		t.Fatalf("after the queue: %v, want close 1000", err)
	}
	b.WriteClose(1000, "")
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// BenchmarkBroadcast sends one message to 1,000 connections whose clients
// read everything, with Write (one frame built per connection) and with
// WritePrepared (one frame shared by all). B/op is per broadcast.
func BenchmarkBroadcast(b *testing.B) {
	const receivers = 1000
	accepted := make(chan *dorrit.MessageConn, receivers)
	ln := serve(b, dorrit.Options{MaxConns: receivers}, func(c *dorrit.MessageConn) {
		c.CloseRead(context.Background())
		accepted <- c
	})
	conns := make([]*dorrit.MessageConn, 0, receivers)
	for range receivers {
		go io.Copy(io.Discard, dialForBench(b, sockPath(ln)))
		conns = append(conns, <-accepted)
	}
	msg := []byte(strings.Repeat("b", 128))
	b.Run("Write", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			for _, c := range conns {
				c.Write(msg)
			}
		}
	})
	b.Run("WritePrepared", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			pm := dorrit.NewPreparedMessage(msg)
			for _, c := range conns {
				c.WritePrepared(pm)
			}
		}
	})
}
