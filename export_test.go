package dorrit

import "time"

// SetCloseStall shortens how long a graceful close waits for a client that
// takes no bytes, so that a test of giving up does not wait 5 s. It
// returns the function that restores it.
func SetCloseStall(d time.Duration) (restore func()) {
	old := closeStallNanos.Swap(int64(d))
	return func() { closeStallNanos.Store(old) }
}
