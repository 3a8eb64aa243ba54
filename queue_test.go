package dorrit_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/internal/wstest"
)

// numbered is the i-th message of a run, 8 KiB so that the socket buffer
// fills quickly and the queue has to hold the rest.
func numbered(i int) []byte {
	return fmt.Appendf(nil, "%06d%s", i, strings.Repeat(".", 8<<10))
}

// Rule 5: past 200 queued frames Write fails with ErrQueueFull, and
// nothing already queued is lost.
func TestRuleQueueBoundedNothingLost(t *testing.T) {
	accepted := make(chan int, 1)
	ln := serve(t, dorrit.Options{}, func(c *dorrit.MessageConn) {
		defer c.Close()
		ctx := context.Background()
		if _, err := c.Read(ctx); err != nil {
			return
		}
		n := 0
		for ; ; n++ {
			err := c.Write(numbered(n))
			if err == dorrit.ErrQueueFull {
				break
			}
			if n > 10*dorrit.MaxQueuedFrames {
				t.Errorf("%d writes accepted while the client reads nothing: the queue is not bounded", n)
				accepted <- -1
				return
			}
			if err != nil {
				t.Errorf("write %d: %v", n, err)
				return
			}
		}
		accepted <- n
		if _, err := c.Read(ctx); err != nil { // the client has read everything
			return
		}
		if err := c.Write([]byte("still open")); err != nil {
			t.Errorf("write after the queue drained: %v", err)
		}
		c.Read(ctx)
	})
	c := dialRaw(t, ln)
	c.WriteText([]byte("fill"))
	n := <-accepted
	if n == -1 {
		t.FailNow()
	}
	if n < dorrit.MaxQueuedFrames {
		t.Fatalf("only %d writes accepted before ErrQueueFull; the queue holds %d", n, dorrit.MaxQueuedFrames)
	}
	for i := range n {
		_, got, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("message %d of %d: %v", i, n, err)
		}
		if !bytes.Equal(got, numbered(i)) {
			t.Fatalf("message %d of %d arrived as %.6q", i, n, got)
		}
	}
	c.WriteText([]byte("drained"))
	if _, got, err := c.ReadMessage(); err != nil || string(got) != "still open" {
		t.Fatalf("after draining: %q %v", got, err)
	}
	if s := ln.Stats(); s.QueueFull != 1 {
		t.Fatalf("Stats.QueueFull = %d, want 1", s.QueueFull)
	}
}

// WriteContext waits for room where Write would fail.
func TestWriteContextWaitsForRoom(t *testing.T) {
	result := make(chan error, 1)
	last := make(chan int, 1)
	ln := serve(t, dorrit.Options{}, func(c *dorrit.MessageConn) {
		defer c.Close()
		ctx := context.Background()
		c.Read(ctx)
		n := 0
		for c.Write(numbered(n)) == nil {
			n++
		}
		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		err := c.WriteContext(short, numbered(n))
		cancel()
		if err != context.DeadlineExceeded {
			result <- fmt.Errorf("WriteContext on a full queue with a short deadline: %v", err)
			return
		}
		last <- n
		result <- c.WriteContext(ctx, numbered(n)) // returns once the client reads
		c.Read(ctx)
	})
	c := dialRaw(t, ln)
	c.WriteText([]byte("fill"))
	n := <-last
	for i := 0; i <= n; i++ {
		_, got, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, numbered(i)) {
			t.Fatalf("message %d arrived as %.6q", i, got)
		}
	}
	if err := <-result; err != nil {
		t.Fatal(err)
	}
}

// Rule 5, exactly: once the socket's buffers are full (the client reads
// nothing), the queue holds MaxQueuedFrames data frames when Write says
// ErrQueueFull — no more, no fewer — as CloseNow's count of undelivered
// frames shows. TestRuleQueueBoundedNothingLost cannot tell 200 from 250:
// what the socket took first varies.
func TestQueueHoldsExactlyTheBound(t *testing.T) {
	full := make(chan error, 1)
	ln := serve(t, dorrit.Options{}, func(c *dorrit.MessageConn) {
		c.Read(context.Background())
		for n := 0; ; n++ {
			if err := c.Write(numbered(n)); err != nil {
				full <- err
				break
			}
		}
		c.CloseNow()
	})
	c := dialRaw(t, ln)
	c.WriteText([]byte("fill")) // and never read
	errIs(t, "the write past the bound", <-full, dorrit.ErrQueueFull)
	waitStats(t, ln, func(s dorrit.Stats) bool { return s.Live == 0 })
	if s := ln.Stats(); s.Undelivered != dorrit.MaxQueuedFrames {
		t.Fatalf("CloseNow at ErrQueueFull dropped %d frames; want the %d the queue holds", s.Undelivered, dorrit.MaxQueuedFrames)
	}
}

func TestWriteErrors(t *testing.T) {
	got := make(chan []error, 1)
	ln := serve(t, dorrit.Options{BufferSize: 10}, func(c *dorrit.MessageConn) { // 5-byte fragments
		c.Read(context.Background())
		errs := []error{
			c.Write([]byte{0xff, 0xfe}),
			c.Write(make([]byte, 5*dorrit.MaxQueuedFrames+1)),
		}
		c.CloseNow()
		errs = append(errs, c.Write([]byte("late")))
		got <- errs
	})
	c := dialRaw(t, ln)
	c.WriteText([]byte("go"))
	errs := <-got
	errIs(t, "invalid UTF-8", errs[0], dorrit.ErrInvalidUTF8)
	errIs(t, "message over 200 fragments", errs[1], dorrit.ErrMessageTooLarge)
	errIs(t, "write after CloseNow", errs[2], dorrit.ErrClosed)
}

// Rule 7: Close delivers every queued frame, then the close frame.
func TestRuleGracefulCloseFlushesQueue(t *testing.T) {
	queued := make(chan int, 1)
	ln := serve(t, dorrit.Options{}, func(c *dorrit.MessageConn) {
		c.Read(context.Background())
		n := 0
		for c.Write(numbered(n)) == nil {
			n++
		}
		queued <- n
		c.Close()
	})
	c := dialRaw(t, ln)
	c.WriteText([]byte("go"))
	n := <-queued
	for i := range n {
		_, got, err := c.ReadMessage()
		if err != nil || !bytes.Equal(got, numbered(i)) {
			t.Fatalf("message %d of %d: %.6q %v", i, n, got, err)
		}
	}
	if err := c.WriteClose(1000, ""); err != nil {
		t.Fatal(err)
	}
	expectClose(t, c, 1000)
}

// Rule 7: CloseNow does not wait for the queue.
func TestRuleCloseNowDoesNotWait(t *testing.T) {
	done := make(chan bool, 1)
	ln := serve(t, dorrit.Options{}, func(c *dorrit.MessageConn) {
		c.Read(context.Background())
		for c.Write(numbered(0)) == nil {
		}
		c.CloseNow()
		select {
		case <-c.Done():
			done <- true
		default:
			done <- false
		}
	})
	c := dialRaw(t, ln)
	c.WriteText([]byte("go"))
	if !<-done {
		t.Fatal("Done not closed when CloseNow returned")
	}
	code, _, _, err := c.ExpectClose(5 * time.Second)
	if err != nil || code != -1 {
		t.Fatalf("after CloseNow the client saw close code %d (%v), want none", code, err)
	}
}

// Large messages that the socket takes only in part: what it did not take
// leaves later, whole and in order, whether it was cut inside a frame or not.
func TestPartialWritesLoseNothing(t *testing.T) {
	const size = 60 << 10
	big := func(i int) []byte {
		b := make([]byte, size)
		for j := range b {
			b[j] = 'a' + byte((i+j)%26)
		}
		return b
	}
	written := make(chan int, 1)
	ln := serve(t, dorrit.Options{}, func(c *dorrit.MessageConn) {
		defer c.Close()
		c.Read(context.Background())
		n := 0
		for ; n < 40 && c.Write(big(n)) == nil; n++ {
		}
		written <- n
		c.Read(context.Background())
	})
	c := dialRaw(t, ln)
	c.WriteText([]byte("go"))
	n := <-written
	for i := range n {
		_, got, err := c.ReadMessage()
		if err != nil || !bytes.Equal(got, big(i)) {
			t.Fatalf("message %d of %d: %d bytes, %v", i, n, len(got), err)
		}
	}
}

// All queues together are bounded by MaxQueueBytes: clients that never
// read are held back (ErrQueueFull) before their 200 frames once the
// budget is spent, while a client that keeps up is still served, and
// the bytes are counted back when the slow ones leave.
func TestQueueBudgetHoldsBackSlowReaders(t *testing.T) {
	const budget = 1 << 20
	filled := make(chan int, 4)
	ln := serve(t, dorrit.Options{MaxQueueBytes: budget}, func(c *dorrit.MessageConn) {
		msg, err := c.Read(context.Background())
		if err != nil || string(msg) != "slow" {
			c.Write(msg)
			echo(c) // the fast client: one answer per request
			return
		}
		n := 0
		for c.Write(numbered(n)) == nil {
			n++
		}
		filled <- n
		c.Read(context.Background()) // until the client leaves
	})
	fast := dialRaw(t, ln)
	roundTrip(t, fast, "first")
	var slow []*wstest.Conn
	for range 4 {
		c := dialRaw(t, ln)
		c.WriteText([]byte("slow"))
		if n := <-filled; n >= dorrit.MaxQueuedFrames {
			t.Fatalf("a client that reads nothing got %d frames queued: the budget of %d bytes did not hold it back", n, budget)
		}
		slow = append(slow, c)
	}
	s := ln.Stats()
	if s.QueueBudget < 4 || s.QueuedBytes > 2*budget {
		t.Fatalf("Stats: %d Writes held back by the budget, %d bytes queued; want ≥ 4 and ≤ %d", s.QueueBudget, s.QueuedBytes, 2*budget)
	}
	for i := range 50 {
		msg := string(numbered(i))
		if err := fast.WriteText([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		if _, got, err := fast.ReadMessage(); err != nil || string(got) != msg {
			t.Fatalf("the client that reads, answer %d: %.6q %v", i, got, err)
		}
	}
	for _, c := range slow {
		c.Close()
	}
	waitStats(t, ln, func(s dorrit.Stats) bool { return s.QueuedBytes == 0 && s.Live == 1 })
}
