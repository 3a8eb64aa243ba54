package dorrit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/internal/wstest"
)

// A graceful close lasts as long as the client keeps taking bytes: the
// README's handler (defer c.Close()) under Shutdown with a 30 s context,
// and a client that needs about 6 s to read its queue, gets every message
// and then 1001; Shutdown reports success only then.
func TestShutdownDeliversEverythingWhileBytesMove(t *testing.T) {
	if testing.Short() {
		t.Skip("reads for about 6 s")
	}
	queued := make(chan int, 1)
	ln := serve(t, dorrit.Options{}, func(c *dorrit.MessageConn) {
		defer c.Close()
		c.Read(context.Background())
		n := 0
		for c.Write(numbered(n)) == nil {
			n++
		}
		queued <- n
		c.Read(context.Background()) // woken by Shutdown
	})
	c := dialRaw(t, ln)
	c.SetDeadline(time.Now().Add(30 * time.Second))
	c.WriteText([]byte("go"))
	n := <-queued
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		shut <- ln.Shutdown(ctx)
	}()
	for i := range n {
		_, got, err := c.ReadMessage()
		if err != nil || string(got[:6]) != string(numbered(i)[:6]) {
			t.Fatalf("message %d of %d: %.6q %v", i, n, got, err)
		}
		time.Sleep(6 * time.Second / time.Duration(n)) // about 280 KB/s
	}
	var ce *wstest.CloseFrameError
	if _, _, err := c.ReadMessage(); !errors.As(err, &ce) || ce.Code != 1001 {
		t.Fatalf("after the queue: %v, want close 1001", err)
	}
	c.WriteClose(1001, "")
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// Write on a connection that has ended returns the same *CloseError as Read,
// so that errors.As gives the close code wherever the handler notices.
func TestWriteAfterEndTellsWhy(t *testing.T) {
	got := make(chan [2]error, 1)
	ln := serve(t, dorrit.Options{}, func(c *dorrit.MessageConn) {
		_, rerr := c.Read(context.Background())
		<-c.Done()
		got <- [2]error{rerr, c.Write([]byte("too late"))}
	})
	c := dialRaw(t, ln)
	c.WriteClose(4001, "bye")
	expectClose(t, c, 4001)
	errs := <-got
	for i, what := range []string{"Read", "Write"} {
		var ce *dorrit.CloseError
		if !errors.As(errs[i], &ce) || ce.Code != 4001 || ce.Reason != "bye" || !ce.Remote {
			t.Errorf("%s after the client's close: %#v, want the client's 4001 \"bye\"", what, errs[i])
		}
		errIs(t, what, errs[i], dorrit.ErrClosed)
	}
}

// A write the socket refuses is the server's failure to deliver, not a
// close the client sent: CloseError.Remote is false.
func TestWriteFailureIsNotRemote(t *testing.T) {
	got := make(chan error, 1)
	ln := serve(t, dorrit.Options{}, func(c *dorrit.MessageConn) {
		// A push-only handler that does not read: only the write can fail.
		for c.Write(numbered(0)) == nil {
		}
		select {
		case <-c.Done():
			got <- c.Err()
		case <-time.After(10 * time.Second):
			got <- errors.New("connection still open 10 s after the client left")
		}
	})
	dialRaw(t, ln).Close()
	err := <-got
	var ce *dorrit.CloseError
	if !errors.As(err, &ce) || ce.Remote || ce.Code != dorrit.StatusAbnormalClosure {
		t.Fatalf("Err after a failed write: %#v, want 1006 with Remote false", err)
	}
}

// A graceful close gives up on a client that takes no bytes at all: Close
// says how many frames were lost, and Stats counts them.
func TestCloseGivesUpOnAStalledClient(t *testing.T) {
	defer dorrit.SetCloseStall(300 * time.Millisecond)()
	closed := make(chan error, 1)
	queued := make(chan int, 1)
	ln := serve(t, dorrit.Options{}, func(c *dorrit.MessageConn) {
		c.Read(context.Background())
		n := 0
		for c.Write(numbered(n)) == nil {
			n++
		}
		queued <- n
		closed <- c.Close()
	})
	c := dialRaw(t, ln)
	c.WriteText([]byte("go")) // and never read
	<-queued
	err := <-closed
	var de *dorrit.DeliveryError
	if !errors.As(err, &de) || de.Undelivered == 0 || !errors.Is(err, dorrit.ErrStalled) {
		t.Fatalf("Close on a client that reads nothing: %v, want a DeliveryError from ErrStalled", err)
	}
	if s := ln.Stats(); s.Undelivered != uint64(de.Undelivered) {
		t.Fatalf("Stats.Undelivered %d, Close reported %d", s.Undelivered, de.Undelivered)
	}
}

// CloseContext gives up when its context ends, and Shutdown adds up what
// every connection lost; both still match ctx.Err() with errors.Is.
func TestCloseContextAndShutdownReportLosses(t *testing.T) {
	results := make(chan error, 2)
	queued := make(chan struct{}, 2)
	ln := serve(t, dorrit.Options{}, func(c *dorrit.MessageConn) {
		msg, _ := c.Read(context.Background())
		for c.Write(numbered(0)) == nil {
		}
		queued <- struct{}{}
		if string(msg) == "close" {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			results <- c.CloseContext(ctx)
			return
		}
		c.Read(context.Background()) // until Shutdown
	})
	for _, m := range []string{"close", "stay"} {
		c := dialRaw(t, ln)
		c.WriteText([]byte(m)) // and never read
		<-queued
	}
	err := <-results
	var de *dorrit.DeliveryError
	if !errors.As(err, &de) || de.Undelivered == 0 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("CloseContext: %v, want a DeliveryError from the deadline", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = ln.Shutdown(ctx)
	if !errors.As(err, &de) || de.Undelivered == 0 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want a DeliveryError from the deadline", err)
	}
}
