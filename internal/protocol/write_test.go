package protocol

import (
	"strings"
	"testing"
)

// Rule: a message over MaxPayload leaves as fragments of MaxPayload bytes,
// each a frame of its own in the queue; pongs may leave between them.
func TestFragmentation(t *testing.T) {
	run(t, Config{MaxPayload: 4}, []step{
		{do: write("0123456789"), out: cat(sf(opText, false, "0123"), sf(opContinuation, false, "4567"), sf(opContinuation, true, "89"))},
		{do: write("0123"), out: stext("0123")},
		{do: write("01234567"), out: cat(sf(opText, false, "0123"), sf(opContinuation, true, "4567"))},
		{do: write("0123456789"), hold: true},
		{do: func(c *Conn) error { c.Wrote(6); return nil }, hold: true}, // the first fragment left
		{in: cf(opPing, true, "p"), out: cat(sf(opPong, true, "p"), sf(opContinuation, false, "4567"), sf(opContinuation, true, "89"))},
	})
}

// Rule: an empty message is sent; invalid UTF-8 is refused with nothing
// queued; after a close frame is queued, Write fails with ErrClosing.
func TestWhatWriteAccepts(t *testing.T) {
	c := run(t, Config{}, []step{
		{do: write(""), out: stext("")},
		{do: write("ok\xff"), err: ErrInvalidUTF8},
		{do: write("\xed\xa0\x80"), err: ErrInvalidUTF8},
		{do: write("h\u00e9"), out: stext("h\u00e9")},
		{do: func(c *Conn) error { c.Close(1000, ""); return nil }, out: sclose(1000, "")},
		{do: write("late"), err: ErrClosing},
	})
	if got := c.Counters(); got.MessagesOut != 2 || got.BytesOut != 3 {
		t.Fatalf("counters %+v", got)
	}
}

// Frames of one connection share buffers: many small answers leave in a
// few iovecs.
func TestSmallFramesShareBuffers(t *testing.T) {
	pool := newTestPool()
	c := New(&Config{MaxPayload: 1000, Pool: pool}, 0)
	c.Cork(true)
	for range 20 {
		if err := c.Write([]byte("answer")); err != nil {
			t.Fatal(err)
		}
	}
	var iov [16][]byte
	if out := c.Output(iov[:0]); len(out) != 1 {
		t.Fatalf("20 small frames in %d buffers", len(out))
	}
	if got, want := flush(c), []byte(strings.Repeat(string(stext("answer")), 20)); string(got) != string(want) {
		t.Fatalf("wrote %q", got)
	}
	c.CloseNow()
	if pool.outstanding() != 0 {
		t.Fatal("buffers not given back")
	}
}
