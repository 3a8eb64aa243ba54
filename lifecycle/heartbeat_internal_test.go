package lifecycle

import (
	"testing"

	"github.com/dorritgo/dorrit"
)

// A supervisor reads heartbeats in both formats: the JSON of this version
// and the "<pid> <live>" of a server process from an older binary (an
// upgrade runs a new binary under the old supervisor, and a downgrade the
// reverse).
func TestParseBeat(t *testing.T) {
	b, ok := parseBeat([]byte(`{"pid":42,"stats":{"Live":3,"Accepted":7,"Refused":{"Full":2}}}`))
	if !ok || b.PID != 42 || b.Stats.Live != 3 || b.Stats.Accepted != 7 || b.Stats.Refused.Full != 2 {
		t.Fatalf("JSON heartbeat read as %+v, %v", b, ok)
	}
	b, ok = parseBeat([]byte("42 3"))
	if !ok || b.PID != 42 || b.Stats.Live != 3 {
		t.Fatalf("plain heartbeat read as %+v, %v", b, ok)
	}
	for _, bad := range []string{"", "{", `{"stats":{}}`, "x y", "0 3"} {
		if _, ok := parseBeat([]byte(bad)); ok {
			t.Errorf("%q taken for a heartbeat", bad)
		}
	}
}

// addStats sums every figure, those in nested structs too.
func TestAddStats(t *testing.T) {
	var sum dorrit.Stats
	one := dorrit.Stats{Live: 1, Accepted: 2, QueuedBytes: 3, MessagesIn: 4,
		Refused: dorrit.RefusedStats{Peer: 5}, Dropped: dorrit.DroppedStats{Application: 6}}
	addStats(&sum, one)
	addStats(&sum, one)
	want := dorrit.Stats{Live: 2, Accepted: 4, QueuedBytes: 6, MessagesIn: 8,
		Refused: dorrit.RefusedStats{Peer: 10}, Dropped: dorrit.DroppedStats{Application: 12}}
	if sum != want {
		t.Fatalf("sum %+v, want %+v", sum, want)
	}
}
