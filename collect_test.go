package dorrit_test

import (
	"net"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/internal/procmem"
)

func forcedCollections() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/forced:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// A burst of connections leaves handshake garbage that an idle server would
// keep resident for minutes; once the burst ends the listener collects it,
// once, and an idle listener forces no collection after that.
func TestHandshakeBurstIsCollectedOnceItEnds(t *testing.T) {
	const n = 1500
	tick := 50 * time.Millisecond // PingInterval / 4
	ln := serve(t, dorrit.Options{PingInterval: 4 * tick, MaxConns: 2 * n}, echo)
	before := forcedCollections()
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for range n {
		c, err := procmem.Dial(sockPath(ln), "")
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	deadline := time.Now().Add(5 * time.Second)
	for forcedCollections() == before {
		if time.Now().After(deadline) {
			t.Fatalf("no collection within 5 s (100 ticks) of a burst of %d handshakes", n)
		}
		time.Sleep(tick)
	}
	time.Sleep(2 * tick) // the collection in flight completes
	after := forcedCollections()
	time.Sleep(20 * tick)
	if again := forcedCollections(); again != after {
		t.Fatalf("%d more forced collections in 20 idle ticks, want none", again-after)
	}
}
