package protocol

import "testing"

// Rule: a client silent for PingAfter ticks is pinged (ahead of data); any
// byte answers; one silent for PongWithin more ticks is overdue, and
// TimeOut closes it with 1001 at once.
func TestKeepalive(t *testing.T) {
	tick := func(now uint32, overdue bool) func(*Conn) error {
		return func(c *Conn) error {
			if got := c.Tick(now); got != overdue {
				t.Fatalf("tick %d: overdue %v", now, got)
			}
			return nil
		}
	}
	ping := sf(opPing, true, "")
	// The engine ticks every tick; bytes that came between two ticks date
	// from the earlier one.
	c := run(t, Config{PingAfter: 4, PongWithin: 2}, []step{
		{do: tick(1, false)},
		{do: tick(2, false)},
		{do: tick(3, false)},
		{do: tick(4, false), out: ping}, // silent since 0
		{do: tick(5, false)},
		{in: cf(opPong, true, "")}, // the answer, after tick 5
		{do: tick(6, false)},
		{do: tick(7, false)},
		{do: tick(8, false)},
		{in: text("hi"), want: []string{"message hi"}}, // any byte is an answer
		{do: tick(9, false)},
		{do: tick(10, false)},
		{do: tick(11, false)},
		{do: tick(12, false), out: ping}, // silent since 8
		{do: write("queued"), hold: true},
		{do: tick(13, false), hold: true},
		{do: tick(14, true), hold: true},
		{do: func(c *Conn) error {
			if !c.TimeOut() || c.TimeOut() {
				t.Fatal("TimeOut reports wrongly whether it began the close")
			}
			return nil
		}, out: sclose(1001, "pong timeout: the client answered no ping"), state: "closed"},
	})
	if got := c.Counters(); got.Dropped != DropPongTimeout || got.Undelivered != 1 {
		t.Fatalf("counters %+v", got)
	}
	// Across the wrap of the tick count; Heard (bytes unread in the
	// socket) answers the ping as well.
	runAt(t, Config{PingAfter: 2, PongWithin: 2}, 1<<32-3, []step{
		{do: tick(1<<32-2, false)},
		{do: func(c *Conn) error { c.Heard(); return nil }},
		{do: tick(1<<32-1, false)},
		{do: tick(0, false), out: ping}, // silent since 1<<32-2
		{do: tick(1, false)},
		{do: func(c *Conn) error { c.Heard(); return nil }},
		{do: tick(2, false)},
		{do: tick(3, false), out: ping}, // silent since 1
		{do: tick(4, false)},
		{do: tick(5, true)},
	})
	// Disabled, or closing: no pings.
	run(t, Config{}, []step{{do: tick(1000, false)}})
	run(t, Config{PingAfter: 1, PongWithin: 1}, []step{
		{do: func(c *Conn) error { c.Close(1000, ""); return nil }, hold: true},
		{do: tick(10, false), out: sclose(1000, "")},
	})
}
