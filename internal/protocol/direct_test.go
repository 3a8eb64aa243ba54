package protocol

import (
	"bytes"
	"strings"
	"testing"
)

// Rule: a large message written while nothing waits goes out from the
// caller's slice; what the socket did not take is queued, copied, and
// continues where the socket stopped.
func TestDirectWrite(t *testing.T) {
	msg := []byte(strings.Repeat("d", 2500))
	want := cat(sf(opText, false, string(msg[:1000])), sf(opContinuation, false, string(msg[1000:2000])), sf(opContinuation, true, string(msg[2000:])))
	for _, took := range []int{0, 1, 4, 1004, 1008, 2000, len(want)} {
		pool := newTestPool()
		c := New(&Config{MaxPayload: 1000, Pool: pool}, 0)
		var hdr DirectHeaders
		var iov [16][]byte
		out, err := c.WriteDirect(msg, &hdr, iov[:0])
		if err != nil || len(out) != 6 {
			t.Fatalf("WriteDirect: %d buffers, %v", len(out), err)
		}
		if &out[1][0] != &msg[0] {
			t.Fatal("the payload was copied")
		}
		if got := bytes.Join(out, nil); !bytes.Equal(got, want) {
			t.Fatalf("direct buffers %q", got)
		}
		c.DirectWritten(msg, took)
		if got := flush(c); !bytes.Equal(got, want[took:]) {
			t.Fatalf("took %d: the queue wrote %d bytes, want %d", took, len(got), len(want)-took)
		}
		if c.QueuedFrames() != 0 || c.Counters().MessagesOut != 1 {
			t.Fatalf("took %d: %d frames queued, counters %+v", took, c.QueuedFrames(), c.Counters())
		}
		c.CloseNow()
		if pool.outstanding() != 0 {
			t.Fatal("buffers not given back")
		}
	}
	// Small messages, or anything queued already, take the queue.
	pool := newTestPool()
	c := New(&Config{MaxPayload: 1000, Pool: pool}, 0)
	var hdr DirectHeaders
	var iov [16][]byte
	if out, err := c.WriteDirect([]byte("small"), &hdr, iov[:0]); len(out) != 0 || err != nil || c.QueuedFrames() != 1 {
		t.Fatalf("small: %d buffers, %v", len(out), err)
	}
	if out, err := c.WriteDirect(msg, &hdr, iov[:0]); len(out) != 0 || err != nil || c.QueuedFrames() != 4 {
		t.Fatalf("behind a queue: %d buffers, %v", len(out), err)
	}
	if _, err := c.WriteDirect([]byte(strings.Repeat("\xff", 2000)), &hdr, iov[:0]); err != ErrInvalidUTF8 {
		t.Fatalf("invalid UTF-8: %v", err)
	}
	c.CloseNow()
}
