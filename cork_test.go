package dorrit_test

import (
	"context"
	"testing"
	"time"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/internal/wstest"
	"golang.org/x/sys/unix"
)

// Answers to pipelined messages are held back to leave together, but a
// handler that stops calling Read still gets its Writes delivered.
func TestCorkedWritesStillLeave(t *testing.T) {
	hold := make(chan struct{})
	defer close(hold)
	ln := serve(t, dorrit.Options{}, func(c *dorrit.MessageConn) {
		defer c.Close()
		msg, err := c.Read(context.Background()) // "first"; "second" is already buffered
		if err != nil {
			return
		}
		c.Write(append([]byte("got "), msg...))
		<-hold // no further Read
	})
	c := dialRaw(t, ln)
	var both []byte
	for _, m := range []string{"first", "second"} {
		both, _ = wstest.AppendFrame(both, wstest.Frame{Fin: true, Opcode: wstest.OpText, Payload: []byte(m)})
	}
	if err := c.WriteRaw(both); err != nil { // one write: the server reads both at once
		t.Fatal(err)
	}
	if _, got, err := c.ReadMessage(); err != nil || string(got) != "got first" {
		t.Fatalf("got %q, %v", got, err)
	}
}

// Pipelined messages are answered in order, every one of them.
func TestPipelinedEchoInOrder(t *testing.T) {
	ln := serve(t, dorrit.Options{}, echo)
	c := dialRaw(t, ln)
	var burst []byte
	const n = 500
	for i := range n {
		burst, _ = wstest.AppendFrame(burst, wstest.Frame{Fin: true, Opcode: wstest.OpText, Payload: numbered(i)[:6]})
	}
	go c.WriteRaw(burst)
	for i := range n {
		_, got, err := c.ReadMessage()
		if err != nil || string(got) != string(numbered(i)[:6]) {
			t.Fatalf("answer %d: %q %v", i, got, err)
		}
	}
}

// The cork holds answers back for at most corkDelay from the first corked
// frame, however often the application goes on writing: a writer every
// 300 µs must not keep the first answer waiting until it stops.
func TestCorkDelayCountsFromTheFirstFrame(t *testing.T) {
	const writes = 31 // below corkMaxFrames, which would flush on its own
	arrived := make(chan struct{})
	written := make(chan int, 1)
	ln := serve(t, dorrit.Options{}, func(c *dorrit.MessageConn) {
		defer c.Close()
		if _, err := c.Read(context.Background()); err != nil { // "first"; "second" is buffered: corked
			return
		}
		n := 0
		for ; n < writes; n++ {
			select {
			case <-arrived:
			default:
				c.Write([]byte("tick"))
				// time.Sleep rounds 300 µs up to a millisecond or more,
				// and a busy loop would keep the runtime from polling
				// the network: sleep in the kernel instead.
				unix.Nanosleep(&unix.Timespec{Nsec: 300e3}, nil)
				continue
			}
			break
		}
		written <- n
		c.Read(context.Background())
	})
	c := dialRaw(t, ln)
	var both []byte
	for _, m := range []string{"first", "second"} {
		both, _ = wstest.AppendFrame(both, wstest.Frame{Fin: true, Opcode: wstest.OpText, Payload: []byte(m)})
	}
	if err := c.WriteRaw(both); err != nil {
		t.Fatal(err)
	}
	if _, got, err := c.ReadMessage(); err != nil || string(got) != "tick" {
		t.Fatalf("got %q, %v", got, err)
	}
	close(arrived)
	n := <-written
	t.Logf("answer arrived after %d writes", n)
	if n == writes {
		t.Fatalf("the first answer left only after all %d writes (%v apart) were done: the cork's delay restarts on every write", writes, 300*time.Microsecond)
	}
}
