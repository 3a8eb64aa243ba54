package protocol

import "testing"

// Rule: pings are answered at the next frame boundary, ahead of queued
// data; a pong not yet on its way carries the newest ping's payload, so
// many pings leave one pong.
func TestPongsCoalescedAheadOfData(t *testing.T) {
	run(t, Config{}, []step{
		{in: cf(opPing, true, "1"), out: sf(opPong, true, "1")},
		{do: write("a"), hold: true},
		{do: write("b"), hold: true},
		{in: cat(cf(opPing, true, "2"), cf(opPing, true, "3"), cf(opPing, true, "four")),
			out: cat(sf(opPong, true, "four"), stext("a"), stext("b"))},
	})
	// A pong already on its way ends whole; the next ping gets a pong of
	// its own behind it, still ahead of data.
	run(t, Config{}, []step{
		{do: write("data"), hold: true},
		{in: cf(opPing, true, "x"), hold: true},
		{do: func(c *Conn) error { c.Wrote(1); return nil }, hold: true},
		{in: cf(opPing, true, "y"), out: cat(sf(opPong, true, "x")[1:], sf(opPong, true, "y"), stext("data"))},
	})
	// Never inside a frame on its way, never before the preface.
	run(t, Config{}, []step{
		{do: func(c *Conn) error {
			b := c.cfg.Pool.Get(64)
			*b = append(*b, "HTTP/1.1 101\r\n\r\n"...)
			c.Preface(b)
			return nil
		}, hold: true},
		{do: write("data"), hold: true},
		{in: cf(opPing, true, "p"), out: cat([]byte("HTTP/1.1 101\r\n\r\n"), sf(opPong, true, "p"), stext("data"))},
		{do: write("data2"), hold: true},
		{do: func(c *Conn) error { c.Wrote(3); return nil }, hold: true},
		{in: cf(opPing, true, "q"), out: cat(stext("data2")[3:], sf(opPong, true, "q"))},
	})
}

// Once a close frame is queued, pings are no longer answered: nothing may
// follow the close frame, nor overtake what it follows.
func TestNoPongAfterClose(t *testing.T) {
	run(t, Config{}, []step{
		{do: write("last"), hold: true},
		{do: func(c *Conn) error { c.Close(1000, ""); return nil }, hold: true},
		{in: cf(opPing, true, "p"), out: cat(stext("last"), sclose(1000, "")), state: "linger"},
	})
}
