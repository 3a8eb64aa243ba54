package dorrit_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/internal/wstest"
)

// A cancelled context ends that Read only: the connection stays open and a
// half-received message is completed by the next Read.
func TestReadContextLeavesConnectionOpen(t *testing.T) {
	steps := make(chan time.Duration, 1) // how long each Read may wait
	results := make(chan string)
	ln := serve(t, dorrit.Options{}, func(c *dorrit.MessageConn) {
		defer c.Close()
		for wait := range steps {
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			msg, err := c.Read(ctx)
			cancel()
			if err != nil {
				results <- "error: " + err.Error()
				if !errors.Is(err, context.DeadlineExceeded) {
					return
				}
				continue
			}
			results <- string(msg)
		}
	})
	// The first Read sends the 101 (the client waits for it till then),
	// and times out: nothing was sent.
	steps <- 50 * time.Millisecond
	c := dialRaw(t, ln)
	if got := <-results; got != "error: context deadline exceeded" {
		t.Fatalf("first Read: %q", got)
	}
	// A Read that must time out gets 50 ms; one that must return a message
	// gets 10 s, so that a slow machine cannot turn it into a timeout.
	ask := func(want string) {
		t.Helper()
		wait := 10 * time.Second
		if strings.HasPrefix(want, "error:") {
			wait = 50 * time.Millisecond
		}
		steps <- wait
		if got := <-results; got != want {
			t.Fatalf("Read: %q, want %q", got, want)
		}
	}
	// Half a frame: the header and 3 of 6 payload bytes.
	key := [4]byte{9, 8, 7, 6}
	whole := frameBytes(t, wstest.Frame{Fin: true, Opcode: wstest.OpText, Payload: []byte("abcdef"), Key: &key})
	c.WriteRaw(whole[:len(whole)-3])
	ask("error: context deadline exceeded")
	c.WriteRaw(whole[len(whole)-3:])
	ask("abcdef")
	c.WriteText([]byte("next"))
	ask("next")
}

// frameBytes encodes f the way the raw client would send it.
func frameBytes(t *testing.T, f wstest.Frame) []byte {
	t.Helper()
	b, err := wstest.AppendFrame(nil, f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Close while another goroutine waits in Read ends that Read with ErrClosed.
func TestCloseInterruptsRead(t *testing.T) {
	readErr := make(chan error, 1)
	ln := serve(t, dorrit.Options{}, func(c *dorrit.MessageConn) {
		go func() {
			_, err := c.Read(context.Background())
			readErr <- err
		}()
		time.Sleep(20 * time.Millisecond) // let Read reach its wait; the outcome is the same if it has not
		c.Close()
	})
	c := dialRaw(t, ln)
	var ce *wstest.CloseFrameError
	if _, _, err := c.ReadMessage(); !errors.As(err, &ce) || ce.Code != 1000 {
		t.Fatalf("got %v, want close 1000", err)
	}
	c.WriteClose(1000, "") // Close waits for this answer, then closes the socket
	expectClose(t, c, -1)
	errIs(t, "Read during Close", <-readErr, dorrit.ErrClosed)
}

// Done, asked for while the connection is open, closes when the client's
// close handshake ends it; Err is nil until then and tells why after.
func TestDoneAndErrFollowTheClientsClose(t *testing.T) {
	type outcome struct {
		before, after error
	}
	got := make(chan outcome, 1)
	ln := serve(t, dorrit.Options{}, func(c *dorrit.MessageConn) {
		done := c.Done()
		before := c.Err()
		go c.Read(context.Background()) // reads the close frame and answers it
		select {
		case <-done:
			got <- outcome{before, c.Err()}
		case <-time.After(10 * time.Second):
			got <- outcome{before, errors.New("Done not closed 10s after the client's close")}
		}
	})
	c := dialRaw(t, ln)
	if err := c.WriteClose(4000, "bye"); err != nil {
		t.Fatal(err)
	}
	o := <-got
	if o.before != nil {
		t.Fatalf("Err while open: %v", o.before)
	}
	var ce *dorrit.CloseError
	if !errors.As(o.after, &ce) || ce.Code != 4000 || ce.Reason != "bye" || !ce.Remote {
		t.Fatalf("Err after the close: %#v, want the client's 4000 \"bye\"", o.after)
	}
	errIs(t, "Err after the close", o.after, dorrit.ErrClosed)
}

// A Read whose context ends just as its message arrives must not
// leave anything behind for the next Read: thousands of such rounds
// on a busy connection never see ErrClosed while it is open.
func TestCancelledReadsNeverCloseTheNext(t *testing.T) {
	const rounds = 3000
	result := make(chan error, 1)
	ln := serve(t, dorrit.Options{}, func(c *dorrit.MessageConn) {
		defer c.Close()
		for i := 0; i < rounds; i++ {
			// The client sends every 20 µs or so: the timeout often ends
			// the Read as its message arrives.
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%40)*time.Microsecond)
			_, err := c.Read(ctx)
			cancel()
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				result <- fmt.Errorf("round %d: Read on an open connection: %w", i, err)
				return
			}
		}
		result <- nil
	})
	c := dialRaw(t, ln)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if c.WriteText([]byte("tick")) != nil {
				return
			}
			time.Sleep(20 * time.Microsecond)
		}
	}()
	select {
	case err := <-result:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the rounds did not finish in 60 s")
	}
}

// A handler that only writes calls CloseRead and keeps every rule: pings
// are answered, messages are discarded, the client's close is answered,
// and the context it got ends with the connection, which frees its slot.
func TestCloseReadKeepsPushOnlyHandlersInTouch(t *testing.T) {
	ended := make(chan error, 2)
	ln := serve(t, dorrit.Options{MaxConns: 1}, func(c *dorrit.MessageConn) {
		defer c.Close()
		ctx := c.CloseRead(context.Background())
		if _, err := c.Read(ctx); !errors.Is(err, dorrit.ErrClosed) {
			ended <- fmt.Errorf("Read after CloseRead: %v, want an error matching ErrClosed", err)
			return
		}
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				ended <- c.Err()
				return
			case <-tick.C:
				c.Write([]byte("tick"))
			}
		}
	})
	c := dialRaw(t, ln)
	if _, got, err := c.ReadMessage(); err != nil || string(got) != "tick" {
		t.Fatalf("first push: %q %v", got, err)
	}
	c.WriteText([]byte("ignored"))
	for i := range 3 {
		p := fmt.Appendf(nil, "ping %d", i)
		c.Ping(p)
		for {
			f, err := c.ReadFrame()
			if err != nil {
				t.Fatalf("waiting for pong %d: %v", i, err)
			}
			if f.Opcode == wstest.OpPong {
				if string(f.Payload) != string(p) {
					t.Fatalf("pong %q, want %q", f.Payload, p)
				}
				break
			}
		}
	}
	c.WriteClose(4000, "bye")
	expectClose(t, c, 4000)
	var ce *dorrit.CloseError
	if err := <-ended; !errors.As(err, &ce) || ce.Code != 4000 || !ce.Remote {
		t.Fatalf("the handler's context ended with %v, want the client's 4000", err)
	}
	// The slot is free again: MaxConns is 1.
	next := dialRaw(t, ln)
	if _, got, err := next.ReadMessage(); err != nil || string(got) != "tick" {
		t.Fatalf("next client: %q %v", got, err)
	}
	// A client that hangs up without a close frame ends the context too.
	next.Close()
	if err := <-ended; !errors.As(err, &ce) || ce.Code != dorrit.StatusAbnormalClosure {
		t.Fatalf("after a hang-up the handler's context ended with %v, want 1006", err)
	}
}

// A Read whose ctx has already ended still returns the messages already
// read from the socket, and reports ctx.Err() only where it would wait:
// a handler (or libdorrit's callback thread) drains a batch without
// blocking on the client.
func TestReadWithEndedContextDrainsWhatIsBuffered(t *testing.T) {
	got := make(chan string, 8)
	ln := serve(t, dorrit.Options{}, func(c *dorrit.MessageConn) {
		defer c.Close()
		first, err := c.Read(context.Background()) // "1"; "2" and "3" came with it
		if err != nil {
			return
		}
		got <- string(first)
		done, cancel := context.WithCancel(context.Background())
		cancel()
		for {
			msg, err := c.Read(done)
			if err != nil {
				got <- err.Error()
				return
			}
			got <- string(msg)
		}
	})
	c := dialRaw(t, ln)
	var batch []byte
	for _, m := range []string{"1", "2", "3"} {
		batch, _ = wstest.AppendFrame(batch, wstest.Frame{Fin: true, Opcode: wstest.OpText, Payload: []byte(m)})
	}
	if err := c.WriteRaw(batch); err != nil { // one write: the server reads all three at once
		t.Fatal(err)
	}
	var seq []string
	for range 4 {
		select {
		case s := <-got:
			seq = append(seq, s)
		case <-time.After(5 * time.Second):
			t.Fatalf("after %q: Read with an ended context waited", seq)
		}
	}
	if want := []string{"1", "2", "3", context.Canceled.Error()}; !slices.Equal(seq, want) {
		t.Fatalf("Reads returned %q, want %q", seq, want)
	}
}
