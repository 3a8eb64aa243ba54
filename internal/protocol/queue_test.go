package protocol

import (
	"fmt"
	"testing"
)

// Rule: at most 200 data frames wait; the next Write fails with
// ErrQueueFull and nothing queued before is lost; control frames do not
// count; once frames leave there is room again.
func TestQueueBound(t *testing.T) {
	var steps []step
	var want []byte
	for i := range MaxQueuedFrames {
		m := fmt.Sprint("m", i)
		steps = append(steps, step{do: write(m), hold: true})
		want = append(want, stext(m)...)
	}
	steps = append(steps,
		step{do: write("one too many"), err: ErrQueueFull, hold: true},
		step{in: cf(opPing, true, ""), hold: true}, // a pong still queues
		step{do: func(c *Conn) error {
			if c.QueuedFrames() != MaxQueuedFrames {
				return fmt.Errorf("%d frames queued", c.QueuedFrames())
			}
			return nil
		}, out: cat(sf(opPong, true, ""), want)},
		step{do: write("room again"), out: stext("room again")},
	)
	c := run(t, Config{}, steps)
	if got := c.Counters(); got.QueueFull != 1 || got.MessagesOut != 201 || got.Undelivered != 0 {
		t.Fatalf("counters %+v", got)
	}
}

// Rule: a message counts as many frames as it has fragments: one that
// would pass the bound is refused whole; one that never fits is too large.
func TestQueueBoundCountsFragments(t *testing.T) {
	run(t, Config{MaxPayload: 10}, []step{
		{do: func(c *Conn) error {
			for range MaxQueuedFrames - 2 {
				if err := c.Write([]byte("x")); err != nil {
					return err
				}
			}
			return nil
		}, hold: true},
		{do: write("0123456789abcdefghij0"), err: ErrQueueFull, hold: true}, // 3 frames
		{do: write("0123456789abcdefghij"), hold: true},                     // 2 frames
		{do: func(c *Conn) error { return c.Write(make([]byte, 10*MaxQueuedFrames+1)) }, err: ErrMessageTooLarge, hold: true},
	})
}
