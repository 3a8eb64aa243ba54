package protocol

// A Budget bounds the bytes all connections' queues hold together (the
// listener's Options.MaxQueueBytes). The core keeps its own connection's
// queued bytes and reports them in steps of BudgetGranule, so that the
// many small frames of a busy connection never touch the shared sum
// (128 B echoes: never; 4 KiB echoes in corked batches: about once per 4
// messages). The sum is low by less than one granule per connection.
// A nil Budget bounds nothing beyond the 200 frames.
type Budget interface {
	// Admit reports whether a connection that holds queued bytes may
	// queue n more. It is asked only when the 200 frames leave room.
	Admit(queued, n int) bool
	// Add moves the shared sum by delta, a multiple of BudgetGranule.
	Add(delta int64)
}

// BudgetGranule is the step in which a connection reports its queued bytes.
const BudgetGranule = 16 << 10

// addQueued moves the connection's queued data bytes by delta, and the
// shared sum when the figure crosses a multiple of BudgetGranule.
func (c *Conn) addQueued(delta int) {
	old := c.qbytes
	c.qbytes = uint32(int(old) + delta)
	if c.cfg.Budget == nil {
		return
	}
	if steps := int64(c.qbytes/BudgetGranule) - int64(old/BudgetGranule); steps != 0 {
		c.cfg.Budget.Add(steps * BudgetGranule)
	}
}
