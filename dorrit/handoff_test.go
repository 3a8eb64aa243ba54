//go:build libdorrit && cgo && (linux || freebsd)

package main

import (
	"testing"
)

// A message's way to the callback thread and back allocates nothing: the
// connection reuses its job.
func TestHandOverAllocatesNothing(t *testing.T) {
	h := newHandoff()
	go h.loop()
	t.Cleanup(func() { close(h.jobs) })
	runs := 0
	j := newJob()
	j.fn = func() { runs++ }
	if allocs := testing.AllocsPerRun(100, func() { h.call(j) }); allocs != 0 {
		t.Fatalf("%v allocations per hand-over; want 0", allocs)
	}
	if runs != 101 { // AllocsPerRun runs it once more first
		t.Fatalf("the job ran %d times; want 101", runs)
	}
}
