package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dorritgo/dorrit/internal/procmem"
)

type config struct {
	n                 int
	dur, sample       time.Duration
	every, quietEvery time.Duration
	quiet, churn      float64
	size              int
	ping, pong        time.Duration
	dialers           int
	rssGrowth         float64
	settle, echoWait  time.Duration
	fault             string
}

// rssSlack is added to the RSS bound: at 10,000 connections the runtime's
// own figures (GC metadata, the pool of frame buffers) move by a few MiB
// from one forced GC to the next.
const rssSlack = 8 << 20

// The heap in use after a GC is the finer leak detector: with the number
// of connections held constant it moved by 0.1 MiB (14.6 to 14.7 MiB) over
// a 90 s run of 10,000 connections, while a leak of 1 KiB per reopened
// connection or 64 B per message would add 5 MiB or more in 10 minutes.
const (
	heapGrowth = 1.10
	heapSlack  = 2 << 20
)

func (cfg config) check() error {
	switch {
	case cfg.n < 1:
		return fmt.Errorf("-n %d: open at least one connection", cfg.n)
	case cfg.size < 20 || cfg.size > 125:
		return fmt.Errorf("-size %d: use 20..125 bytes (one short frame, room for the message's name)", cfg.size)
	case cfg.every <= 0 || cfg.quietEvery <= 0 || cfg.dur <= 0 || cfg.sample <= 0 || cfg.echoWait <= 0:
		return errors.New("-every, -quiet-every, -for, -sample and -echo-wait must be positive")
	case cfg.quiet < 0 || cfg.quiet > 1 || cfg.churn < 0 || cfg.churn > 1:
		return errors.New("-quiet and -churn are shares between 0 and 1")
	case cfg.dialers < 1:
		return errors.New("-dialers must be at least 1")
	}
	return nil
}

// soak is one run: the server child, the clients' totals and what went wrong.
type soak struct {
	cfg    config
	child  *procmem.Child
	totals totals
	lost   atomic.Int64
	reconn atomic.Int64

	mu       sync.Mutex
	failures []string // the first few, for the report
	nfail    int
}

func (s *soak) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nfail++
	if len(s.failures) < 20 {
		s.failures = append(s.failures, err.Error())
	}
}

// measure asks the server child for a sample; gc collects first.
func (s *soak) measure(gc bool) sample {
	line := "m"
	if gc {
		line = "gc"
	}
	var sm sample
	if err := json.Unmarshal([]byte(s.child.Ask(line)), &sm); err != nil {
		s.fail(fmt.Errorf("the server child's sample: %w", err))
	}
	return sm
}

// run runs the soak described by cfg and writes its progress and report to
// out; the error lists what failed.
func run(cfg config, out io.Writer) error {
	procmem.RaiseFileLimit()
	// MaxConns leaves room for the connections that churn opens while
	// their predecessors still close.
	args := []string{"-max-conns", strconv.Itoa(2*cfg.n + 64), "-ping", cfg.ping.String(), "-pong", cfg.pong.String()}
	if cfg.fault != "" {
		args = append(args, "-fault", cfg.fault)
	}
	child, err := procmem.StartChild(args...)
	if err != nil {
		return err
	}
	defer child.Close()
	s := &soak{cfg: cfg, child: child}
	var f figures
	f.base = s.measure(true)
	s.header(out, &f)

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var opened, slots sync.WaitGroup
	opened.Add(cfg.n)
	sem := make(chan struct{}, cfg.dialers)
	began := time.Now()
	for i := range cfg.n {
		slots.Go(func() { s.slot(ctx, i, &opened, sem) })
	}
	opened.Wait()
	fmt.Fprintf(out, "all %d open in %v\n", cfg.n, time.Since(began).Round(time.Millisecond))

	f.start = s.measure(false)
	f.startGC = s.measure(true)
	t0 := time.Now()
	s.sampleLine(out, "start", t0, f.start)
	tick := time.NewTicker(cfg.sample)
	warm := time.NewTimer(cfg.warmup())
	end := time.NewTimer(cfg.dur)
	f.peak = f.start.RSS
hold:
	for {
		select {
		case <-tick.C:
			sm := s.measure(false)
			f.peak = max(f.peak, sm.RSS)
			s.sampleLine(out, "", t0, sm)
		case <-warm.C:
			f.warm = s.measure(false)
			f.warmGC = s.measure(true)
			f.warmAt = time.Since(t0)
			f.peak = max(f.peak, f.warm.RSS)
			s.sampleLine(out, "warm", t0, f.warm)
		case <-end.C:
			break hold
		}
	}
	tick.Stop()
	f.end = s.measure(false)
	f.peak = max(f.peak, f.end.RSS)
	f.endGC = s.measure(true)
	s.sampleLine(out, "end", t0, f.end)
	fmt.Fprintf(out, "load average at end: %s\n", loadavg())

	stop()
	closing := time.Now()
	slots.Wait()
	f.closed = time.Since(closing)
	f.settled = -1
	for at := time.Now(); time.Since(at) < cfg.settle; time.Sleep(50 * time.Millisecond) {
		f.after = s.measure(false)
		if f.after.Stats.Live == 0 && f.after.Goroutines <= f.base.Goroutines && f.after.FDs <= f.base.FDs {
			f.settled = time.Since(at)
			break
		}
	}
	f.afterGC = s.measure(true)
	s.report(out, &f)
	return s.verdict(&f)
}

// warmup is when every connection has sent at least once (the slowest
// schedule's longest interval), so that the memory of a connection that
// talks is in the figure the end is compared with; at most half the run.
func (cfg config) warmup() time.Duration {
	slowest := cfg.every
	if int(cfg.quiet*float64(cfg.n)) > 0 {
		slowest = max(slowest, cfg.quietEvery)
	}
	return min(slowest*5/4, cfg.dur/2)
}

// slot keeps connection i open until ctx ends: it opens it (the first time
// within sem's bound, then tells opened), sends on its schedule, closes and
// reopens it when churn says so or the server ended it, and at the end
// closes it for good.
func (s *soak) slot(ctx context.Context, i int, opened *sync.WaitGroup, sem chan struct{}) {
	every := s.cfg.every
	if float64(i) < s.cfg.quiet*float64(s.cfg.n) {
		every = s.cfg.quietEvery
	}
	jitter := func() time.Duration { return time.Duration(float64(every) * (0.75 + rand.Float64()/2)) }
	first := true
	for gen := 0; ; gen++ {
		if first {
			sem <- struct{}{}
		}
		nc, err := procmem.Dial(s.child.Socket, "")
		if first {
			<-sem
			opened.Done()
			first = false
		}
		if err != nil {
			s.fail(fmt.Errorf("c%d.%d: connecting: %w", i, gen, err))
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
				continue
			}
		}
		s.totals.dials.Add(1)
		c := newClient(nc, fmt.Sprintf("c%d.%d", i, gen), s.cfg.size, &s.totals)
		go c.read()
		next := time.NewTimer(time.Duration(rand.Int64N(int64(every)))) // spread the first messages over one interval
		again := false
		for !again {
			select {
			case <-ctx.Done():
				next.Stop()
				s.closeClient(c)
				return
			case <-c.gone:
				next.Stop()
				s.fail(c.err)
				s.lost.Add(c.sent.Load() - c.echoed.Load())
				nc.Close()
				again = true
			case <-next.C:
				if err := c.send(); err != nil {
					s.fail(fmt.Errorf("%s: sending: %w", c.name, err))
				}
				if rand.Float64() < s.cfg.churn {
					s.closeClient(c)
					s.reconn.Add(1)
					again = true
				} else {
					next.Reset(jitter())
				}
			}
		}
	}
}

func (s *soak) closeClient(c *client) {
	lost, err := c.close(s.cfg.echoWait)
	s.lost.Add(lost)
	if err != nil {
		s.fail(err)
	}
}
