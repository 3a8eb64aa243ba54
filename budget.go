package dorrit

// The queue budget. Every connection's queue may hold 200 frames (the
// manual's rule), but together the queues must not take the machine: 500
// clients that sent 64 KiB messages and never read held 6.2 GB of RSS, and
// the default 2000 connections reach 25 GiB. The listener keeps the sum of
// the data bytes all queues hold. Once a Write would take it past
// Options.MaxQueueBytes, the Write is refused with ErrQueueFull if its
// connection holds more than its share (MaxQueueBytes / connections open):
// the slow readers are held back, the clients that keep up are not. The
// sum can so pass the budget by at most the shares, that is twice the budget.

// budgetGranule is the step in which a connection reports its queued bytes
// to the listener: the many small frames of a busy connection then never
// touch the shared counter (128 B echoes: never; 4 KiB echoes in corked
// batches: about once per 4 messages). The sum is low by less than one
// granule per connection.
const budgetGranule = 16 << 10

// addQueued moves c's queued data bytes by delta, and the listener's sum when
// c's figure crosses a multiple of budgetGranule. wmu is held.
func (c *MessageConn) addQueued(delta int) {
	old := c.qbytes
	c.qbytes = uint32(int(old) + delta)
	if steps := int64(c.qbytes/budgetGranule) - int64(old/budgetGranule); steps != 0 {
		c.ln.queued.Add(steps * budgetGranule)
	}
}

// overBudget reports whether a Write of n more bytes must wait: the sum
// would pass the budget and c already holds its share. wmu is held.
func (c *MessageConn) overBudget(n int) bool {
	ln := c.ln
	limit := ln.opts.MaxQueueBytes
	if limit < 0 || ln.queued.Load()+int64(n) <= limit {
		return false
	}
	return int64(c.qbytes)+int64(n) > limit/max(ln.counters.live.Load(), 1)
}
