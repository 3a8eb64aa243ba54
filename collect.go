package dorrit

import (
	"runtime/debug"
	"runtime/metrics"
)

// Handshake garbage. Each upgrade leaves about handshakeGarbage bytes for
// the collector (the request's header map, URL, reader, the answer:
// 2.0 KiB per handshake in idlemem's heap profile, go1.26). A server that
// took a burst of connections and then sits idle runs no collection for
// minutes, so that garbage stays resident: examples/echo under lifecycle
// showed 4.84 KiB of RSS per idle connection 3 s after 10,000 connections
// had arrived, 4.07 KiB once collected; a raw byte echo shows 3.54. After
// a burst, once handshakes stop, the listener's housekeeping therefore
// collects and returns the pages, but only when that garbage is a large
// share of the process's live heap: in a daemon whose own heap dwarfs it,
// a forced collection would cost more than it gives back.
const (
	handshakeGarbage = 2 << 10
	burstMin         = 1024 // handshakes: about 2 MiB of garbage
)

// burstWatch follows handshakes from one housekeeping tick to the next.
// The runtime's own collections during a burst do not count: they free
// the garbage but keep its pages resident, and the pages are the point.
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

// collectAfterBurst is called by housekeeping on every tick.
func (ln *Listener) collectAfterBurst(w *burstWatch) {
	live := [1]metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(live[:])
	if w.tick(uint64(ln.counters.accepted.Load()), live[0].Value.Uint64()) {
		go debug.FreeOSMemory()
	}
}
