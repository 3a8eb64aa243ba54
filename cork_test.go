package dorrit_test

import (
	"context"
	"testing"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/internal/wstest"
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
