package lifecycle

import (
	"bytes"
	"context"
	"io"
	"net"
	"path/filepath"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/internal/procmem"
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

func TestQueueWatchGivesBackOnceDrained(t *testing.T) {
	const budget = 64 << 20
	w := queueWatch{budget: budget}
	steps := []struct {
		queued int64
		want   bool
		why    string
	}{
		{0, false, "nothing queued"},
		{10 << 20, false, "10 MiB: under a quarter of the budget"},
		{1 << 20, false, "drained, but the peak was small"},
		{40 << 20, false, "40 MiB queued"},
		{20 << 20, false, "draining: still above an eighth of the peak"},
		{4 << 20, true, "drained to a tenth of the 40 MiB peak"},
		{0, false, "given back: the peak starts again from here"},
		{0, false, "idle: never again"},
		{30 << 20, false, "queued again"},
		{0, true, "drained again"},
	}
	for i, s := range steps {
		if got := w.tick(s.queued); got != s.want {
			t.Fatalf("step %d (%s): give back = %v, want %v", i, s.why, got, s.want)
		}
	}
	none := queueWatch{budget: -1}
	none.tick(1 << 40)
	if none.tick(0) {
		t.Fatal("gave back without a budget (MaxQueueBytes < 0)")
	}
}

// ReleaseMemory reads this metric as Uint64: a rename in a later Go
// would make Value.Uint64 panic.
func TestReleaseMetricsExist(t *testing.T) {
	s := []metrics.Sample{{Name: liveHeapMetric}, {Name: forcedMetric}}
	metrics.Read(s)
	for _, m := range s {
		if m.Value.Kind() != metrics.KindUint64 {
			t.Errorf("runtime/metrics %s: kind %v, want Uint64", m.Name, m.Value.Kind())
		}
	}
}

func TestDefaultMaxQueueBytes(t *testing.T) {
	mem := totalMemory()
	if mem <= 0 {
		t.Fatal("the machine's memory is unknown")
	}
	if got, want := defaultMaxQueueBytes(), min(int64(dorrit.DefaultMaxQueueBytes), mem/4); got != want {
		t.Fatalf("defaultMaxQueueBytes = %d, want min(256 MiB, %d/4) = %d", got, mem, want)
	}
}

const forcedMetric = "/gc/cycles/forced:gc-cycles"

func forcedCollections() uint64 {
	s := []metrics.Sample{{Name: forcedMetric}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// releasing is a listener with ReleaseMemory on it, driven by the test's
// ticks: step returns once ReleaseMemory has acted on one tick.
type releasing struct {
	ln    *dorrit.Listener
	ticks chan time.Time
	acted chan struct{}
}

func listenReleasing(t *testing.T, o dorrit.Options) *releasing {
	t.Helper()
	o.Path = filepath.Join(t.TempDir(), "s.sock")
	ln, err := dorrit.Listen(o)
	if err != nil {
		t.Fatal(err)
	}
	r := &releasing{ln: ln, ticks: make(chan time.Time), acted: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		releaseOnTicks(ctx, ln, r.ticks, func() { r.acted <- struct{}{} })
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		ln.Close()
	})
	return r
}

// step gives ReleaseMemory one tick and waits until it has acted on it.
func (r *releasing) step() {
	r.ticks <- time.Time{}
	<-r.acted
}

// A burst of connections leaves handshake garbage that an idle server would
// keep resident for minutes; once the burst ends it is collected, once, and
// an idle listener forces no collection after that.
func TestHandshakeBurstIsCollectedOnceItEnds(t *testing.T) {
	procmem.RaiseFileLimit()
	const n = 1500
	r := listenReleasing(t, dorrit.Options{MaxConns: 2 * n})
	go procmem.Echo(r.ln)
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	before := forcedCollections()
	for range n {
		c, err := procmem.Dial(r.ln.Addr().String(), "")
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	r.step() // the burst seen arriving
	if got := forcedCollections(); got != before {
		t.Fatalf("%d forced collections while the burst arrived, want none", got-before)
	}
	r.step() // quiet: collected
	after := forcedCollections()
	if after == before {
		t.Fatalf("no collection at the first quiet tick after a burst of %d handshakes", n)
	}
	for range 20 {
		r.step()
	}
	if again := forcedCollections(); again != after {
		t.Fatalf("%d more forced collections in 20 idle ticks, want none", again-after)
	}
}

// Queues that took a large share of MaxQueueBytes and drained are given
// back: clients that did not read while the server wrote, then read it all.
func TestDrainedQueuesAreGivenBack(t *testing.T) {
	const budget = 8 << 20
	r := listenReleasing(t, dorrit.Options{MaxQueueBytes: budget})
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	msg := bytes.Repeat([]byte("x"), 60<<10)
	for range 4 {
		// The 101 leaves once the server side reads (CloseRead), after
		// Accept: the client waits for it meanwhile.
		dialled := make(chan net.Conn, 1)
		go func() {
			c, err := procmem.Dial(r.ln.Addr().String(), "")
			if err != nil {
				t.Error(err)
			}
			dialled <- c
		}()
		sc, err := r.ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			defer sc.Close()
			sc.CloseRead(context.Background())
			// Until the queue or the budget says no: the client reads
			// nothing yet.
			for sc.Write(msg) == nil {
			}
			<-sc.Done()
		}()
		c := <-dialled
		if c == nil {
			t.FailNow()
		}
		conns = append(conns, c)
	}
	waitQueued(t, r.ln, func(q int64) bool { return q >= budget/2 }, "at least half the budget")
	before := forcedCollections()
	r.step() // the peak seen
	if got := forcedCollections(); got != before {
		t.Fatalf("%d forced collections with the queues full, want none", got-before)
	}
	for _, c := range conns {
		go io.Copy(io.Discard, c) // the clients read at last
	}
	waitQueued(t, r.ln, func(q int64) bool { return q <= budget/16 }, "the queues drained")
	r.step()
	if forcedCollections() == before {
		t.Fatal("no collection once the queues had drained")
	}
}

func waitQueued(t *testing.T, ln *dorrit.Listener, ok func(int64) bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !ok(ln.Stats().QueuedBytes); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("queues hold %d bytes after 20 s; want %s", ln.Stats().QueuedBytes, what)
		}
	}
}
