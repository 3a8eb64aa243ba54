package dorrit

import (
	"runtime"
	"runtime/debug"
)

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

// defaultMaxQueueBytes is 256 MiB, or a quarter of the machine's memory when
// that is less: enough for 2000 clients to each have 128 KiB in flight, or
// 20 slow readers their full 200 frames of 64 KiB.
func defaultMaxQueueBytes() int64 {
	const cap = 256 << 20
	if mem := totalMemory(); mem > 0 {
		return min(cap, mem/4)
	}
	return cap
}

// addQueued moves c's queued data bytes by delta, and the listener's sum when
// c's figure crosses a multiple of budgetGranule. wmu is held.
func (c *MessageConn) addQueued(delta int) {
	old := c.qbytes
	c.qbytes = uint32(int(old) + delta)
	if steps := int64(c.qbytes/budgetGranule) - int64(old/budgetGranule); steps != 0 {
		if sum := c.ln.queued.Add(steps * budgetGranule); steps > 0 {
			c.ln.notePeak(sum)
		}
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

// notePeak keeps the highest sum since the last giveBack.
func (ln *Listener) notePeak(sum int64) {
	for {
		peak := ln.queuedPeak.Load()
		if sum <= peak || ln.queuedPeak.CompareAndSwap(peak, sum) {
			return
		}
	}
}

// giveBack returns memory to the system once a large share of the budget
// was queued and has drained: the pooled buffers that held it would
// otherwise stay until the next GC, and an idle server runs none for
// minutes (RSS stayed at 6.2 GB for 4-6 minutes after the slow readers
// left). Two collections empty the buffer pools, FreeOSMemory returns the
// pages. The housekeeping goroutine calls it on each tick.
func (ln *Listener) giveBack() {
	limit := ln.opts.MaxQueueBytes
	if limit <= 0 {
		return
	}
	peak, now := ln.queuedPeak.Load(), ln.queued.Load()
	if peak < limit/4 || now > peak/8 {
		return
	}
	ln.queuedPeak.Store(now)
	go func() {
		runtime.GC()
		debug.FreeOSMemory()
	}()
}
