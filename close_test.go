package dorrit_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
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

// CloseWith gives up when its context ends, and Shutdown adds up what
// every connection lost; both still match ctx.Err() with errors.Is.
func TestCloseWithAndShutdownReportLosses(t *testing.T) {
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
			results <- c.CloseWith(ctx, dorrit.StatusNormalClosure, "")
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

// A client still sending when the server fails its connection must read
// the whole close frame and then an orderly end of stream, not a reset
// (RFC 6455 §7.1.1, a lingering close): behind a front server, a reset
// makes it drop the close frame it had not yet forwarded.
func TestFailedConnectionEndsWithoutReset(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	tail := bytes.Repeat([]byte("x"), 200<<10) // what the client goes on sending
	cases := []struct {
		name  string
		frame wstest.Frame
		code  int
	}{
		// Over the 65,535 limit: failed after the header, the rest still coming.
		{"too big", wstest.Frame{Fin: true, Opcode: wstest.OpText, Payload: bytes.Repeat([]byte("x"), 70000)}, 1009},
		{"binary", wstest.Frame{Fin: true, Opcode: wstest.OpBinary, Payload: []byte("bin")}, 1003},
		{"bad UTF-8", wstest.Frame{Fin: true, Opcode: wstest.OpText, Payload: []byte{0xff, 0xfe}}, 1007},
		{"reserved bit", wstest.Frame{Fin: true, RSV: 4, Opcode: wstest.OpText, Payload: []byte("rsv")}, 1002},
		{"unmasked", wstest.Frame{Fin: true, Opcode: wstest.OpText, Payload: []byte("bare"), Unmasked: true}, 1002},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ln := serve(t, dorrit.Options{}, echo)
			c := dialRaw(t, ln)
			tc.frame.Key = &key
			burst := append(frameBytes(t, tc.frame), tail...)
			sent := make(chan error, 1)
			go func() { sent <- c.WriteRaw(burst) }()
			f, err := c.ReadFrame()
			if err != nil || f.Opcode != wstest.OpClose || len(f.Payload) < 2 || int(binary.BigEndian.Uint16(f.Payload)) != tc.code {
				t.Fatalf("got opcode %d %q, %v; want close %d", f.Opcode, f.Payload, err, tc.code)
			}
			if err := <-sent; err != nil {
				t.Fatalf("the client's write failed after the close frame: %v", err)
			}
			var one [1]byte
			if n, err := c.NetConn().Read(one[:]); n != 0 || err != io.EOF {
				t.Fatalf("after the close frame: %d bytes, %v; want an orderly end of stream (EOF)", n, err)
			}
		})
	}
}

// Shutdown lingers too: a client sending while the server drains reads the
// 1001 and then an orderly end of stream.
func TestShutdownEndsWithoutReset(t *testing.T) {
	ln := serve(t, dorrit.Options{}, echo)
	c := dialRaw(t, ln)
	roundTrip(t, c, "hello")
	stop := make(chan struct{})
	go func() {
		msg := bytes.Repeat([]byte("x"), 1000)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if c.WriteText(msg) != nil {
				return
			}
		}
	}()
	defer close(stop)
	go ln.Shutdown(context.Background())
	for {
		_, _, err := c.ReadMessage()
		var ce *wstest.CloseFrameError
		if errors.As(err, &ce) {
			if ce.Code != 1001 {
				t.Fatalf("close %d, want 1001", ce.Code)
			}
			break
		}
		if err != nil {
			t.Fatalf("before the close frame: %v", err)
		}
	}
	var one [1]byte
	if n, err := c.NetConn().Read(one[:]); n != 0 || err != io.EOF {
		t.Fatalf("after the close frame: %d bytes, %v; want an orderly end of stream (EOF)", n, err)
	}
}

// Lingering is bounded: a client that goes on sending without end, or one
// that neither answers nor ends its stream, is closed on after 1 MiB or
// 2 s, and Stats counts it.
func TestLingerIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("waits the 2 s bound")
	}
	ln := serve(t, dorrit.Options{}, echo)
	key := [4]byte{1, 2, 3, 4}
	big := frameBytes(t, wstest.Frame{Fin: true, Opcode: wstest.OpBinary, Payload: []byte("b"), Key: &key})

	flood := dialRaw(t, ln)
	go func() {
		flood.WriteRaw(big)
		junk := make([]byte, 64<<10)
		for flood.WriteRaw(junk) == nil {
		}
	}()
	if code, _, eof, err := flood.ExpectClose(10 * time.Second); code != 1003 || !eof || err != nil {
		t.Fatalf("flooding client: close %d, socket closed %v, %v", code, eof, err)
	}

	silent := dialRaw(t, ln)
	silent.WriteRaw(big) // then neither reads nor closes
	deadline := time.Now().Add(10 * time.Second)
	for ln.Stats().Live != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still open 10 s later", ln.Stats().Live)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if s := ln.Stats(); s.LingerExpired != 2 {
		t.Fatalf("Stats.LingerExpired = %d, want 2", s.LingerExpired)
	}
}

// Drop gives a client up at once: what is queued is discarded, the close
// frame with the application's code comes next, and Stats says so.
func TestDropSendsItsCodeAtOnce(t *testing.T) {
	queued := make(chan int, 1)
	after := make(chan error, 1)
	ln := serve(t, dorrit.Options{}, func(c *dorrit.MessageConn) {
		c.Read(context.Background())
		n := 0
		for c.Write(numbered(n)) == nil {
			n++
		}
		if err := c.Drop(dorrit.StatusCode(999), "not a code"); !errors.Is(err, dorrit.ErrBadCloseCode) {
			t.Errorf("Drop(999): %v, want ErrBadCloseCode", err)
		}
		if err := c.Drop(dorrit.StatusPolicyViolation, "too slow"); err != nil {
			t.Errorf("Drop: %v", err)
		}
		queued <- n
		after <- c.Write([]byte("after Drop"))
	})
	c := dialRaw(t, ln)
	c.WriteText([]byte("go"))
	n := <-queued
	got := 0
	for {
		_, _, err := c.ReadMessage()
		var ce *wstest.CloseFrameError
		if errors.As(err, &ce) {
			if ce.Code != 1008 || ce.Reason != "too slow" {
				t.Fatalf("close %d %q, want 1008 \"too slow\"", ce.Code, ce.Reason)
			}
			c.Close() // ends the server's lingering at once
			break
		}
		if err != nil {
			t.Fatalf("after %d messages: %v", got, err)
		}
		got++
	}
	if got >= n {
		t.Fatalf("%d of %d queued messages arrived before the close frame: Drop waited for the queue", got, n)
	}
	var ce *dorrit.CloseError
	if err := <-after; !errors.As(err, &ce) || ce.Code != dorrit.StatusPolicyViolation {
		t.Fatalf("Write after Drop: %v, want the 1008 CloseError", err)
	}
	waitStats(t, ln, func(s dorrit.Stats) bool {
		return s.Dropped.Application == 1 && s.Undelivered > 0 && s.Live == 0
	})
}
