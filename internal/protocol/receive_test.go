package protocol

import (
	"strings"
	"testing"
)

// Rule: messages are assembled from fragments and from reads of any size;
// pings and pongs may come between fragments; an empty message is a
// message.
func TestMessageAssembly(t *testing.T) {
	big := strings.Repeat("0123456789", 90)
	for _, split := range []int{0, 1, 3, 100} {
		run(t, Config{}, []step{
			{in: text(""), split: split, want: []string{"message "}},
			{in: text(big), split: split, want: []string{"message " + big}},
			{in: cat(cf(opText, false, "hel"), cf(opPong, true, "p"), cf(opContinuation, false, ""), cf(opContinuation, true, "lo")), split: split,
				want: []string{"message hello"}},
			{in: cat(text("a"), text("b"), text("c")), split: split, want: []string{"message a", "message b", "message c"}},
		})
	}
}

// A message that arrives whole in one Receive is handed out from the
// caller's bytes, without a copy and without a buffer.
func TestWholeMessageIsNotCopied(t *testing.T) {
	pool := newTestPool()
	c := New(&Config{MaxPayload: 100, Pool: pool}, 0)
	in := text("hello")
	n, ev := c.Receive(in)
	if n != len(in) || ev.Kind != Message || &ev.Message[0] != &in[6] {
		t.Fatalf("took %d, event %+v: not the caller's bytes", n, ev)
	}
	if pool.outstanding() != 0 {
		t.Fatalf("%d buffers borrowed for a whole message", pool.outstanding())
	}
}

// Rule: the client's stream ending without a close frame is a hangup: the
// queue is dropped (undelivered) and the connection is Closed.
func TestHangup(t *testing.T) {
	c := run(t, Config{}, []step{
		{do: write("unsent"), hold: true},
		{in: cf(opText, false, "half"), eof: true, want: []string{"hangup"}, out: nil, state: "closed"},
		{do: write("late"), err: ErrClosing},
	})
	if got := c.Counters(); got.Undelivered != 1 || c.Why().Code != StatusAbnormalClosure || !c.Why().Remote {
		t.Fatalf("counters %+v, why %+v", got, c.Why())
	}
}
