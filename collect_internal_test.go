package dorrit

import (
	"runtime/metrics"
	"testing"
)

func TestBurstWatchCollectsOnceAfterABurst(t *testing.T) {
	const live = 8 << 20 // 8 MiB: 4096 handshakes' garbage is a quarter
	var w burstWatch
	steps := []struct {
		accepted uint64
		want     bool
		why      string
	}{
		{0, false, "nothing accepted"},
		{3000, false, "handshakes still arriving"},
		{5000, false, "still arriving"},
		{5000, true, "quiet after 5000: 10 MiB of garbage ≥ 2 MiB"},
		{5000, false, "collected: nothing new"},
		{5000, false, "idle: never again"},
		{5500, false, "a few more arriving"},
		{5500, false, "quiet, but 500 are under burstMin"},
		{6200, false, "more arriving"},
		{6200, true, "quiet: 1200 since the last collection"},
	}
	for i, s := range steps {
		if got := w.tick(s.accepted, live); got != s.want {
			t.Fatalf("step %d (%s): collect = %v, want %v", i, s.why, got, s.want)
		}
	}
}

func TestBurstWatchLeavesALargeHeapAlone(t *testing.T) {
	var w burstWatch
	const live = 1 << 30 // a daemon's own heap of 1 GiB dwarfs 10 MiB of garbage
	w.tick(5000, live)
	if w.tick(5000, live) {
		t.Fatal("collected for 10 MiB of garbage in a 1 GiB heap")
	}
}

// collectAfterBurst reads this metric as Uint64: a rename in a later Go
// would make Value.Uint64 panic in the housekeeping goroutine.
func TestBurstMetricsExist(t *testing.T) {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	for _, m := range s {
		if m.Value.Kind() != metrics.KindUint64 {
			t.Errorf("runtime/metrics %s: kind %v, want Uint64", m.Name, m.Value.Kind())
		}
	}
}
