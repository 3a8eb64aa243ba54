package protocol

import "testing"

// Rule: what Stats counts. Messages and bytes both ways, refusals by
// cause, undelivered frames, and the drop reason.
func TestCounters(t *testing.T) {
	b := &testBudget{limit: 100}
	c := run(t, Config{MaxPayload: 10, Budget: b}, []step{
		{in: cat(text("abc"), cf(opText, false, "de"), cf(opContinuation, true, "f")), want: []string{"message abc", "message def"}},
		{do: write("0123456789xy"), hold: true}, // two frames, 12 bytes
		{do: write(""), hold: true},
		{do: write("\xff"), err: ErrInvalidUTF8, hold: true},                                          // not counted
		{do: func(c *Conn) error { return c.Write(make([]byte, 99)) }, err: ErrQueueFull, hold: true}, // the budget
		{out: cat(sf(opText, false, "0123456789"), sf(opContinuation, true, "xy"), stext(""))},
		{do: write("lost"), hold: true},
		{in: cf(0xF, true, ""), want: []string{"fail 1002"}, out: sclose(1002, "unknown opcode")},
		{in: text("after the failure")}, // discarded, uncounted
	})
	want := Counters{MessagesIn: 2, BytesIn: 6, MessagesOut: 3, BytesOut: 16, QueueFull: 1, QueueBudget: 1, Undelivered: 1, Dropped: DropProtocol}
	if got := c.Counters(); got != want {
		t.Fatalf("counters\n%+v\nwant\n%+v", got, want)
	}
}
