package dorrit

// The queue budget. Every connection's queue may hold 200 frames (the
// manual's rule), but together the queues must not take the machine: 500
// clients that sent 64 KiB messages and never read held 6.2 GB of RSS, and
// the default 2000 connections reach 25 GiB. The listener keeps the sum of
// the data bytes all queues hold (each core reports its own in steps of
// protocol.BudgetGranule). Once a Write would take it past
// Options.MaxQueueBytes, the Write is refused with ErrQueueFull if its
// connection holds more than its share (MaxQueueBytes / connections open):
// the slow readers are held back, the clients that keep up are not. The
// sum can so pass the budget by at most the shares, that is twice the budget.

// listenerBudget is the Listener as the cores' protocol.Budget.
type listenerBudget Listener

// Admit reports whether a connection holding queued bytes may queue n more.
func (b *listenerBudget) Admit(queued, n int) bool {
	limit := b.opts.MaxQueueBytes
	if limit < 0 || b.queued.Load()+int64(n) <= limit {
		return true
	}
	return int64(queued)+int64(n) <= limit/max(b.counters.live.Load(), 1)
}

// Add moves the sum of all queues.
func (b *listenerBudget) Add(delta int64) { b.queued.Add(delta) }
