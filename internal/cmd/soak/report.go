package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/dorritgo/dorrit"
)

// figures are the server's samples at the moments the report names.
type figures struct {
	base           sample // before the first connection, after a GC
	start, startGC sample // all connections open
	warm, warmGC   sample // every connection has talked
	warmAt         time.Duration
	end, endGC     sample // the end of the run, before any close
	peak           int64  // the highest RSS sampled
	closed         time.Duration
	after          sample // the server once back at its baseline, or when -settle ran out
	settled        time.Duration
	afterGC        sample
}

func (s *soak) pingInterval() time.Duration {
	if s.cfg.ping != 0 {
		return s.cfg.ping
	}
	return dorrit.DefaultPingInterval
}

func (s *soak) header(out io.Writer, f *figures) {
	cfg := s.cfg
	fmt.Fprintf(out, "soak: %d connections for %v, messages of %d B every %v (%.0f %% of them every %v), churn %.3f per message, PingInterval %v (%s, %s, %d CPUs)\n",
		cfg.n, cfg.dur, cfg.size, cfg.every, 100*cfg.quiet, cfg.quietEvery, cfg.churn, s.pingInterval(), runtime.Version(), runtime.GOARCH, runtime.NumCPU())
	if cfg.fault != "" {
		fmt.Fprintf(out, "the server has the fault %q\n", cfg.fault)
	}
	fmt.Fprintf(out, "load average at start: %s\n", loadavg())
	fmt.Fprintf(out, "server before any connection: RSS %s, heap %s, %d goroutines, %d descriptors, %d threads\n",
		mib(f.base.RSS), mib(int64(f.base.Heap)), f.base.Goroutines, f.base.FDs, f.base.Threads)
}

// sampleLine prints one sample; label is the time since t0 unless given.
func (s *soak) sampleLine(out io.Writer, label string, t0 time.Time, sm sample) {
	if label == "" {
		label = time.Since(t0).Round(time.Second).String()
	}
	t := &s.totals
	fmt.Fprintf(out, "%-6s RSS %9s  heap %9s  goroutines %6d  threads %3d  fds %6d  live %6d  sent %8d  echoed %8d  pings %6d  reopened %5d  failures %d  load %s\n",
		label, mib(sm.RSS), mib(int64(sm.Heap)), sm.Goroutines, sm.Threads, sm.FDs, sm.Stats.Live,
		t.sent.Load(), t.echoed.Load(), t.pings.Load(), s.reconn.Load(), s.failureCount(), loadavg())
}

func (s *soak) report(out io.Writer, f *figures) {
	t := &s.totals
	fmt.Fprintf(out, "\nmessages: %d sent, %d echoed, %d lost; echo p50 %v, p99 %v, max %v\n",
		t.sent.Load(), t.echoed.Load(), s.lost.Load(), t.latency.quantile(.5), t.latency.quantile(.99), t.latency.maxDuration())
	fmt.Fprintf(out, "connections: %d opened, %d closed by their client (%d to reopen), pings answered %d\n",
		t.dials.Load(), t.closes.Load(), s.reconn.Load(), t.pings.Load())
	fmt.Fprintf(out, "server RSS: %s at start, %s warm (%v), %s at end, peak sampled %s\n",
		mib(f.start.RSS), mib(f.warm.RSS), f.warmAt.Round(time.Second), mib(f.end.RSS), mib(f.peak))
	fmt.Fprintf(out, "server RSS after a GC: %s at start, %s warm, %s at end, %s after all closed\n",
		mib(f.startGC.RSS), mib(f.warmGC.RSS), mib(f.endGC.RSS), mib(f.afterGC.RSS))
	fmt.Fprintf(out, "server heap in use after a GC: %s at start, %s warm, %s at end, %s after all closed; goroutine stacks %s, %s, %s, %s\n",
		mib(int64(f.startGC.Heap)), mib(int64(f.warmGC.Heap)), mib(int64(f.endGC.Heap)), mib(int64(f.afterGC.Heap)),
		mib(int64(f.startGC.Stack)), mib(int64(f.warmGC.Stack)), mib(int64(f.endGC.Stack)), mib(int64(f.afterGC.Stack)))
	fmt.Fprintf(out, "all clients closed in %v; the server then: %d live, %d goroutines (baseline %d), %d descriptors (baseline %d), %d threads",
		f.closed.Round(time.Millisecond), f.after.Stats.Live, f.after.Goroutines, f.base.Goroutines, f.after.FDs, f.base.FDs, f.after.Threads)
	if f.settled >= 0 {
		fmt.Fprintf(out, ", at the baseline %v after the last close\n", f.settled.Round(time.Millisecond))
	} else {
		fmt.Fprintf(out, ", not at the baseline within %v\n", s.cfg.settle)
	}
	st := f.after.Stats
	fmt.Fprintf(out, "server stats: accepted %d, messages in %d, out %d, refused %+v, dropped %+v, queue full %d, undelivered %d, linger expired %d\n",
		st.Accepted, st.MessagesIn, st.MessagesOut, st.Refused, st.Dropped, st.QueueFull, st.Undelivered, st.LingerExpired)
}

// verdict is nil when nothing went wrong, or an error naming everything
// that did.
func (s *soak) verdict(f *figures) error {
	cfg, t, st := s.cfg, &s.totals, f.after.Stats
	var why []string
	failf := func(format string, args ...any) { why = append(why, fmt.Sprintf(format, args...)) }
	s.mu.Lock()
	if s.nfail > 0 {
		failf("%d client failures; the first:\n    %s", s.nfail, strings.Join(s.failures, "\n    "))
	}
	s.mu.Unlock()
	if n := s.lost.Load(); n > 0 {
		failf("%d messages were never echoed", n)
	}
	if st.MessagesIn != uint64(t.sent.Load()) || st.MessagesOut != uint64(t.echoed.Load()) {
		failf("the server counted %d messages in and %d out, the clients %d sent and %d echoed",
			st.MessagesIn, st.MessagesOut, t.sent.Load(), t.echoed.Load())
	}
	if st.Accepted != uint64(t.dials.Load()) || st.Refused.Total() > 0 || st.Dropped.Total() > 0 ||
		st.QueueFull > 0 || st.Undelivered > 0 || st.LingerExpired > 0 {
		failf("the server accepted %d of %d connections, refused %d, dropped %d, refused %d writes, left %d undelivered and %d lingering",
			st.Accepted, t.dials.Load(), st.Refused.Total(), st.Dropped.Total(), st.QueueFull, st.Undelivered, st.LingerExpired)
	}
	if bound := int64(float64(f.warmGC.RSS)*cfg.rssGrowth) + rssSlack; f.endGC.RSS > bound {
		failf("the server's RSS after a GC grew from %s (warm) to %s (end), over the bound of %s (-rss-growth %.2f + %s)",
			mib(f.warmGC.RSS), mib(f.endGC.RSS), mib(bound), cfg.rssGrowth, mib(rssSlack))
	}
	if bound := uint64(float64(f.warmGC.Heap)*heapGrowth) + heapSlack; f.endGC.Heap > bound {
		failf("the server's heap in use after a GC grew from %s (warm) to %s (end), over the bound of %s (× %.2f + %s)",
			mib(int64(f.warmGC.Heap)), mib(int64(f.endGC.Heap)), mib(int64(bound)), heapGrowth, mib(heapSlack))
	}
	if f.settled < 0 {
		failf("%v after the last close the server still had %d live connections, %d goroutines (baseline %d), %d descriptors (baseline %d)",
			cfg.settle, f.after.Stats.Live, f.after.Goroutines, f.base.Goroutines, f.after.FDs, f.base.FDs)
	}
	quiet := int(cfg.quiet * float64(cfg.n))
	if ping := s.pingInterval(); quiet > 0 && cfg.quietEvery*3/4 > ping*3/2 && cfg.dur >= 2*cfg.quietEvery && t.pings.Load() == 0 {
		failf("no keepalive ping reached the %d quiet connections", quiet)
	}
	if len(why) > 0 {
		return errors.New("FAIL: " + strings.Join(why, "\nFAIL: "))
	}
	return nil
}

func (s *soak) failureCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nfail
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// loadavg is the machine's 1-, 5- and 15-minute load averages.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
