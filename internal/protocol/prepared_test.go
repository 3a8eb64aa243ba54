package protocol

import "testing"

// Rule: a prepared message is framed once and queued on many connections
// with every rule of Write.
func TestPrepared(t *testing.T) {
	p := Prepare([]byte("0123456789"), 4)
	want := cat(sf(opText, false, "0123"), sf(opContinuation, false, "4567"), sf(opContinuation, true, "89"))
	for range 2 {
		run(t, Config{MaxPayload: 4}, []step{
			{do: func(c *Conn) error { return c.WritePrepared(p) }, out: want},
			{do: func(c *Conn) error { return c.WritePrepared(Prepare([]byte("\xff"), 4)) }, err: ErrInvalidUTF8},
			{do: func(c *Conn) error { return c.WritePrepared(Prepare([]byte("x"), 5)) }, err: ErrPreparedSize},
		})
	}
	if string(*p.frames[0]) != string(sf(opText, false, "0123")) {
		t.Fatal("a connection changed the shared frames")
	}
}
