package protocol

import (
	"fmt"
	"testing"
)

type testBudget struct {
	limit int
	sum   int64
}

func (b *testBudget) Admit(queued, n int) bool { return queued+n <= b.limit }
func (b *testBudget) Add(delta int64)          { b.sum += delta }

// Rule: the Budget is asked once the 200 frames leave room, and hears of
// the queued bytes in BudgetGranule steps.
func TestQueueBudget(t *testing.T) {
	b := &testBudget{limit: 3 * BudgetGranule}
	big := make([]byte, BudgetGranule)
	for i := range big {
		big[i] = 'b'
	}
	c := run(t, Config{MaxPayload: 1 << 20, Budget: b}, []step{
		{do: func(c *Conn) error { return c.Write(big) }, hold: true},
		{do: func(c *Conn) error { return c.Write(big) }, hold: true},
		{do: func(c *Conn) error {
			if b.sum != 2*BudgetGranule {
				return fmt.Errorf("budget sum %d", b.sum)
			}
			return c.Write(big)
		}, err: ErrQueueFull, hold: true},
		{do: func(c *Conn) error { flush(c); return nil }},
		{do: func(c *Conn) error {
			if b.sum != 0 {
				return fmt.Errorf("budget sum %d after the queue left", b.sum)
			}
			return nil
		}},
	})
	if got := c.Counters(); got.QueueFull != 1 || got.QueueBudget != 1 {
		t.Fatalf("counters %+v", got)
	}
}
