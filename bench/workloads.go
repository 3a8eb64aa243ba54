package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// window is how many messages each connection keeps in flight in the
// throughput workload.
const window = 64

// throughput pipelines size-byte messages on conns connections, window in
// flight on each, and returns the echoed messages per second over d (after a
// warm-up of d/10).
func throughput(sock string, raw bool, conns, size int, d time.Duration) (float64, error) {
	cs, err := dialAll(sock, conns, raw)
	if err != nil {
		return 0, err
	}
	msg := frame(bytes.Repeat([]byte("m"), size), raw)
	batch := bytes.Repeat(msg, window) // any k messages are batch[:k*len(msg)]
	var total atomic.Int64
	var failed atomic.Pointer[error]
	var stopped atomic.Bool
	var wg sync.WaitGroup
	for _, c := range cs {
		credits := make(chan int, window) // echoes received: room for as many messages
		credits <- window
		wg.Go(func() { // writer
			for k := range credits {
			more: // take every credit already there
				for {
					select {
					case n, ok := <-credits:
						if !ok {
							return
						}
						k += n
					default:
						break more
					}
				}
				if _, err := c.Write(batch[:k*len(msg)]); err != nil {
					return
				}
			}
		})
		wg.Go(func() { // reader
			defer close(credits)
			r := newReader(c, size, 64<<10, raw)
			for {
				n, err := r.next()
				if err != nil {
					if !stopped.Load() {
						failed.CompareAndSwap(nil, &err)
					}
					return
				}
				if n > 0 {
					total.Add(int64(n))
					credits <- n // never blocks: at most window are outstanding
				}
			}
		})
	}
	time.Sleep(d / 10)
	n0, t0 := total.Load(), time.Now()
	time.Sleep(d)
	n1, t1 := total.Load(), time.Now()
	stopped.Store(true)
	closeAll(cs)
	wg.Wait()
	if err := failed.Load(); err != nil {
		return 0, *err
	}
	if n1 == n0 { // a server that reads and never answers
		return 0, fmt.Errorf("no echo in %v", t1.Sub(t0).Round(time.Millisecond))
	}
	return float64(n1-n0) / t1.Sub(t0).Seconds(), nil
}

// latency sends 128-byte messages on conns connections at rate messages per
// second in all, each at its scheduled time whether or not earlier echoes
// are back, and returns the round-trip percentiles p50, p99 and p999.
func latency(sock string, raw bool, conns, rate int, d time.Duration) ([3]time.Duration, error) {
	const size = 128
	cs, err := dialAll(sock, conns, raw)
	if err != nil {
		return [3]time.Duration{}, err
	}
	defer closeAll(cs)
	msg := frame(bytes.Repeat([]byte("l"), size), raw)
	interval := time.Duration(int64(time.Second) * int64(conns) / int64(rate))
	n := int(d / interval)
	start := time.Now().Add(10 * time.Millisecond)
	rtts := make([][]time.Duration, len(cs))
	errs := make([]error, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		sent := make(chan time.Time, n)                              // echoes come back in order
		offset := interval * time.Duration(i) / time.Duration(conns) // connections spread out
		wg.Go(func() {
			for k := range n {
				time.Sleep(time.Until(start.Add(offset + time.Duration(k)*interval)))
				sent <- time.Now()
				if _, err := c.Write(msg); err != nil {
					return
				}
			}
		})
		wg.Go(func() {
			c.SetReadDeadline(start.Add(d + 10*time.Second))
			r := newReader(c, size, 4<<10, raw)
			local := make([]time.Duration, 0, n)
			for len(local) < n {
				got, err := r.next()
				if err != nil {
					errs[i] = fmt.Errorf("after %d of %d echoes: %w", len(local), n, err)
					return
				}
				now := time.Now()
				for range got {
					local = append(local, now.Sub(<-sent))
				}
			}
			rtts[i] = local
		})
	}
	wg.Wait()
	if err := firstErr(errs); err != nil {
		return [3]time.Duration{}, err
	}
	return percentiles(rtts)
}

// pingPong keeps one 128-byte message in flight on each of conns
// connections: each sends its next message the moment the echo of the
// previous one is back. It returns the round-trip percentiles p50, p99 and
// p999 of the messages sent during d, after a warm-up of d/10. Unlike
// latency, the rate is whatever the server allows, and every round trip
// starts on a connection whose server side is waiting in a read: this is
// the cost of a wake-up, a read, a write and a wake-up, not of a queue.
func pingPong(sock string, raw bool, conns int, d time.Duration) ([3]time.Duration, error) {
	const size = 128
	cs, err := dialAll(sock, conns, raw)
	if err != nil {
		return [3]time.Duration{}, err
	}
	defer closeAll(cs)
	msg := frame(bytes.Repeat([]byte("p"), size), raw)
	warm := time.Now().Add(d / 10)
	end := warm.Add(d)
	rtts := make([][]time.Duration, len(cs))
	errs := make([]error, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() {
			c.SetDeadline(end.Add(10 * time.Second))
			r := newReader(c, size, 4<<10, raw)
			var local []time.Duration
			for {
				t0 := time.Now()
				if !t0.Before(end) {
					break
				}
				if _, err := c.Write(msg); err != nil {
					errs[i] = fmt.Errorf("after %d round trips: %w", len(local), err)
					return
				}
				for got := 0; got == 0; { // a raw echo may come back in pieces
					var err error
					if got, err = r.next(); err != nil {
						errs[i] = fmt.Errorf("after %d round trips: %w", len(local), err)
						return
					}
				}
				if t0.After(warm) {
					local = append(local, time.Since(t0))
				}
			}
			rtts[i] = local
		})
	}
	wg.Wait()
	if err := firstErr(errs); err != nil {
		return [3]time.Duration{}, err
	}
	return percentiles(rtts)
}

// firstErr returns the first of the connections' errors, saying how many
// connections failed: one line for the table, where errors.Join would give
// one line per connection, mostly the same.
func firstErr(errs []error) error {
	var first error
	n := 0
	for _, err := range errs {
		if err != nil && first == nil {
			first = err
		}
		if err != nil {
			n++
		}
	}
	if n > 1 {
		return fmt.Errorf("%w (and %d more of %d connections)", first, n-1, len(errs))
	}
	return first
}

// percentiles returns p50, p99 and p999 of the round trips of all
// connections together.
func percentiles(rtts [][]time.Duration) ([3]time.Duration, error) {
	all := slices.Concat(rtts...)
	if len(all) == 0 {
		return [3]time.Duration{}, errors.New("no round trips measured")
	}
	slices.Sort(all)
	at := func(q float64) time.Duration { return all[min(len(all)-1, int(q*float64(len(all))))] }
	return [3]time.Duration{at(0.50), at(0.99), at(0.999)}, nil
}

// idle opens n connections that stay silent and returns the growth of the
// server's resident memory per connection, in KiB, each figure read after
// the server collected garbage and returned free memory to the system.
func idle(sock string, raw bool, n int, srv *child) (float64, error) {
	before, err := srv.settledRSS()
	if err != nil {
		return 0, err
	}
	cs, err := dialAll(sock, n, raw)
	if err != nil {
		return 0, err
	}
	defer closeAll(cs)
	time.Sleep(500 * time.Millisecond) // the server accepts the last ones, sets them up
	after, err := srv.settledRSS()
	if err != nil {
		return 0, err
	}
	return float64(after-before) / float64(n) / 1024, nil
}

// fanout opens receivers connections and one sender, which sends prefix
// (broadcastPrefix or preparedPrefix) and 128 bytes, repeats times one after
// another; the server writes the 128 bytes to every connection it holds. It
// returns the median time from the send until every receiver has the
// message.
func fanout(sock, prefix string, receivers, repeats int) (time.Duration, error) {
	const size = 128
	cs, err := dialAll(sock, receivers+1, false)
	if err != nil {
		return 0, err
	}
	defer closeAll(cs)
	readers, err := echoOnce(cs, size)
	if err != nil {
		return 0, err
	}
	sender := cs[receivers]
	var pending atomic.Int64
	arrived := make(chan struct{}, 1)
	failed := make(chan error, len(cs))
	for i, r := range readers {
		go func() {
			for {
				n, err := r.next()
				if err != nil {
					if !errors.Is(err, net.ErrClosed) {
						failed <- err
					}
					return
				}
				if i < receivers && pending.Add(int64(-n)) == 0 {
					arrived <- struct{}{}
				}
			}
		}()
	}
	msg := frame(append([]byte(prefix), bytes.Repeat([]byte("f"), size)...), false)
	var times []time.Duration
	for k := range repeats + 1 { // the first one warms up
		pending.Store(int64(receivers))
		start := time.Now()
		if _, err := sender.Write(msg); err != nil {
			return 0, err
		}
		select {
		case <-arrived:
		case err := <-failed:
			return 0, err
		case <-time.After(10 * time.Second):
			return 0, fmt.Errorf("broadcast %d: %d of %d receivers still waiting after 10s", k, pending.Load(), receivers)
		}
		if k > 0 {
			times = append(times, time.Since(start))
		}
	}
	slices.Sort(times)
	return times[len(times)/2], nil
}

// echoOnce has one size-byte message echoed on every connection and returns
// their readers. Every server adds a connection to the set it broadcasts to
// before its read loop starts, but after the handshake's answer has gone
// out: a client can have its 101 while the server has not yet registered
// it. An echo proves the read loop runs. Without this, the first broadcast
// raced the registration of the last connections dialled (a quick run once
// stopped on "broadcast 0: 1 of 1000 receivers still waiting after 10s").
func echoOnce(cs []*conn, size int) ([]*reader, error) {
	msg := frame(bytes.Repeat([]byte("e"), size), false)
	deadline := time.Now().Add(10 * time.Second)
	readers := make([]*reader, len(cs))
	for i, c := range cs {
		c.SetDeadline(deadline)
		if _, err := c.Write(msg); err != nil {
			return nil, fmt.Errorf("connection %d of %d, first echo: %w", i+1, len(cs), err)
		}
		readers[i] = newReader(c, size, 4<<10, false)
	}
	for i, r := range readers {
		for got := 0; got == 0; {
			var err error
			if got, err = r.next(); err != nil {
				return nil, fmt.Errorf("connection %d of %d, first echo: %w", i+1, len(cs), err)
			}
		}
		cs[i].SetDeadline(time.Time{})
	}
	return readers, nil
}
