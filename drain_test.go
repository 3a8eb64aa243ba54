package dorrit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/internal/wstest"
)

// A message Read gave the handler is answered before Shutdown's 1001: the
// handler, busy with it when Shutdown begins, may still Write its answer;
// the close frame follows once it comes back to Read (which then returns
// the 1001) or closes. An upgrade's drain under load (integration/) lost
// such an answer: Shutdown queued its close while the handler held the
// message, and the handler's Write failed with ErrClosed.
func TestShutdownLetsTheHandlerAnswerWhatItRead(t *testing.T) {
	got, answer := make(chan struct{}), make(chan struct{})
	wrote, next := make(chan error, 1), make(chan error, 1)
	ln := serve(t, dorrit.Options{}, func(c *dorrit.MessageConn) {
		defer c.Close()
		msg, err := c.Read(context.Background())
		if err != nil {
			return
		}
		close(got)
		<-answer // busy with it while Shutdown begins
		wrote <- c.Write(msg)
		_, err = c.Read(context.Background())
		next <- err
	})
	c := dialRaw(t, ln)
	if err := c.WriteText([]byte("question")); err != nil {
		t.Fatal(err)
	}
	<-got
	shut := make(chan error, 1)
	go func() { shut <- ln.Shutdown(ctxT(t)) }()
	// Time for Shutdown to close the connection, if it did not wait.
	time.Sleep(100 * time.Millisecond)
	close(answer)
	if err := <-wrote; err != nil {
		t.Fatalf("the handler's answer to what it read before Shutdown: %v", err)
	}
	_, msg, err := c.ReadMessage()
	if err != nil || string(msg) != "question" {
		t.Fatalf("first frame after Shutdown: %q, %v; want the answer", msg, err)
	}
	var ce *wstest.CloseFrameError
	if _, _, err := c.ReadMessage(); !errors.As(err, &ce) || ce.Code != 1001 {
		t.Fatalf("after the answer: %v, want close 1001", err)
	}
	var cerr *dorrit.CloseError
	if err := <-next; !errors.As(err, &cerr) || cerr.Code != dorrit.StatusGoingAway {
		t.Fatalf("the handler's next Read: %v, want the 1001 CloseError", err)
	}
	c.WriteClose(1001, "")
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// Shutdown waits for a handler that holds a message for 1 s at most: one
// that never comes back is closed as before, so a stuck handler cannot
// hold a drain. So is one that calls Shutdown itself while it holds a
// message (an operator's "stop" command): the 1001 still reaches its
// client, within the ctx it gave.
func TestShutdownDoesNotWaitForeverForAHandler(t *testing.T) {
	t.Run("stuck", testShutdownWithAStuckHandler)
	t.Run("calling Shutdown", testShutdownFromTheHandler)
}

func testShutdownFromTheHandler(t *testing.T) {
	var ln *dorrit.Listener
	shut := make(chan error, 1)
	ln = serve(t, dorrit.Options{}, func(c *dorrit.MessageConn) {
		if _, err := c.Read(context.Background()); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			shut <- ln.Shutdown(ctx)
		}
	})
	c := dialRaw(t, ln)
	c.WriteText([]byte("stop"))
	var ce *wstest.CloseFrameError
	if _, _, err := c.ReadMessage(); !errors.As(err, &ce) || ce.Code != 1001 {
		t.Fatalf("%v, want close 1001", err)
	}
	c.WriteClose(1001, "")
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

func testShutdownWithAStuckHandler(t *testing.T) {
	stuck := make(chan struct{})
	defer close(stuck)
	got := make(chan struct{})
	ln := serve(t, dorrit.Options{}, func(c *dorrit.MessageConn) {
		if _, err := c.Read(context.Background()); err == nil {
			close(got)
		}
		<-stuck
	})
	c := dialRaw(t, ln)
	c.WriteText([]byte("hello"))
	<-got
	shut := make(chan error, 1)
	go func() { shut <- ln.Shutdown(ctxT(t)) }()
	var ce *wstest.CloseFrameError
	if _, _, err := c.ReadMessage(); !errors.As(err, &ce) || ce.Code != 1001 {
		t.Fatalf("%v, want close 1001", err)
	}
	c.WriteClose(1001, "")
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// What a client sends after the server's close frame is discarded (RFC
// 6455 §1.4), and not counted in Stats.MessagesIn: the figures say what
// the server read, and an upgrade under load (integration/) showed 594
// messages "read" and never answered that the server had only thrown away.
func TestMessagesAfterOurCloseAreNotCounted(t *testing.T) {
	ln := serve(t, dorrit.Options{}, echo)
	c := dialRaw(t, ln)
	roundTrip(t, c, "counted")
	shut := make(chan error, 1)
	go func() { shut <- ln.Shutdown(ctxT(t)) }()
	var ce *wstest.CloseFrameError
	if _, _, err := c.ReadMessage(); !errors.As(err, &ce) || ce.Code != 1001 {
		t.Fatalf("%v, want close 1001", err)
	}
	for range 3 {
		if err := c.WriteText([]byte("discarded")); err != nil {
			t.Fatal(err)
		}
	}
	c.WriteClose(1001, "")
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if s := ln.Stats(); s.MessagesIn != 1 || s.MessagesOut != 1 {
		t.Fatalf("MessagesIn %d, MessagesOut %d; want 1 and 1", s.MessagesIn, s.MessagesOut)
	}
}
