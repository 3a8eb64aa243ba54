package lifecycle

import (
	"context"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/dorritgo/dorrit"
)

// Process-wide memory policy. A connection library must not force garbage
// collections or return memory to the system behind its application's
// back, but a process that is a dorrit server may: the server process runs
// ReleaseMemory on its listener, and a daemon that calls dorrit.Listen
// itself may run it too. It reads only what any application can read:
// Listener.Stats and runtime/metrics.

// releaseTick is how often ReleaseMemory looks at the figures. Each look
// takes the listener's Stats (one pass over the connections); a burst's
// garbage is collected at the first quiet tick after it, so the tick is
// also about how long that garbage stays resident.
const releaseTick = 2 * time.Second

// ReleaseMemory returns memory the listener's connections left behind to
// the operating system, until ctx ends; run it on its own goroutine:
//
//	go lifecycle.ReleaseMemory(ctx, ln)
//
// Go returns freed memory to the system on its own only slowly, and runs a
// collection only once the heap has grown, which a server that sits idle
// after a busy moment does not do for minutes. So ReleaseMemory collects
// and returns the pages (debug.FreeOSMemory) in two cases: once a burst of
// handshakes has ended, when their garbage is a large share of the live
// heap (so a daemon whose own heap dwarfs it is left alone), and once the
// connections' queues had taken a large share of Options.MaxQueueBytes and
// have drained. Idle, it forces nothing. The server process of Run and
// Main runs it on its listener.
func ReleaseMemory(ctx context.Context, ln *dorrit.Listener) {
	t := time.NewTicker(releaseTick)
	defer t.Stop()
	releaseOnTicks(ctx, ln, t.C, nil)
}

// releaseOnTicks is ReleaseMemory with its ticks given, and acted, when not
// nil, called once a tick was acted on (the tests' own ticks and wait).
func releaseOnTicks(ctx context.Context, ln *dorrit.Listener, ticks <-chan time.Time, acted func()) {
	var burst burstWatch
	queues := queueWatch{budget: ln.Options().MaxQueueBytes}
	live := []metrics.Sample{{Name: liveHeapMetric}}
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
		}
		st := ln.Stats()
		metrics.Read(live)
		collectBurst := burst.tick(st.Accepted, live[0].Value.Uint64())
		drained := queues.tick(st.QueuedBytes)
		switch {
		case drained:
			// Two collections empty the buffer pools (sync.Pool keeps
			// a victim cache for one cycle); FreeOSMemory, which
			// collects too, returns the pages.
			runtime.GC()
			debug.FreeOSMemory()
		case collectBurst:
			debug.FreeOSMemory()
		}
		if acted != nil {
			acted()
		}
	}
}

// liveHeapMetric is the heap the last collection left live; ReleaseMemory
// reads it as a Uint64 (TestReleaseMetricsExist).
const liveHeapMetric = "/gc/heap/live:bytes"

// Handshake garbage. Each upgrade leaves about handshakeGarbage bytes for
// the collector (the request's header map, URL, reader, the answer:
// 2.0 KiB per handshake in idlemem's heap profile, go1.26). A server that
// took a burst of connections and then sits idle runs no collection for
// minutes, so that garbage stays resident: examples/echo under lifecycle
// showed 4.84 KiB of RSS per idle connection 3 s after 10,000 connections
// had arrived, 4.07 KiB once collected; a raw byte echo shows 3.54. After
// a burst, once handshakes stop, the garbage is therefore collected and
// the pages returned, but only when that garbage is a large share of the
// process's live heap: in a daemon whose own heap dwarfs it, a forced
// collection would cost more than it gives back.
const (
	handshakeGarbage = 2 << 10
	burstMin         = 1024 // handshakes: about 2 MiB of garbage
)

// burstWatch follows handshakes from one tick to the next. The runtime's
// own collections during a burst do not count: they free the garbage but
// keep its pages resident, and the pages are the point.
type burstWatch struct {
	seen  uint64 // accepted handshakes at the last tick
	since uint64 // accepted handshakes at the last collection here
}

// tick reports whether to collect now, given the handshakes accepted so
// far and the live heap.
func (w *burstWatch) tick(accepted, live uint64) bool {
	quiet := accepted == w.seen
	w.seen = accepted
	burst := accepted - w.since
	if !quiet || burst < burstMin || burst*handshakeGarbage < live/4 {
		return false
	}
	w.since = accepted
	return true
}

// queueWatch gives memory back once a large share of the queue budget was
// queued and has drained: the pooled buffers that held it would otherwise
// stay until the next collection, and an idle server runs none for minutes
// (500 clients that sent 64 KiB messages and never read held 6.2 GB of RSS,
// and RSS stayed there for 4-6 minutes after they left). The peak is the
// highest of the figures seen at the ticks: a queue that fills and drains
// between two ticks is missed, and is small enough for the runtime's own
// collections to deal with.
type queueWatch struct {
	budget int64 // Options.MaxQueueBytes; 0 or less: no budget, nothing watched
	peak   int64 // highest QueuedBytes seen since the last collection here
}

// tick reports whether to collect now, given what the queues hold.
func (w *queueWatch) tick(queued int64) bool {
	if w.budget <= 0 {
		return false
	}
	w.peak = max(w.peak, queued)
	if w.peak < w.budget/4 || queued > w.peak/8 {
		return false
	}
	w.peak = queued
	return true
}

// defaultMaxQueueBytes is the queue budget the server process gives the
// listener when the Server's Options leave it 0: dorrit's default (256 MiB),
// or a quarter of the machine's memory when that is less, so that slow
// readers cannot take a small machine (2000 connections with their 200
// frames of 64 KiB queued would be 25 GiB).
func defaultMaxQueueBytes() int64 {
	const most = dorrit.DefaultMaxQueueBytes
	if mem := totalMemory(); mem > 0 {
		return min(most, mem/4)
	}
	return most
}
