package main

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// throughput pipelines size-byte messages on conns connections (window
// messages in flight each) for d and returns echoed messages per second.
func throughput(sock string, raw bool, conns, size int, d time.Duration) (float64, error) {
	const window = 64
	cs, err := dialAll(sock, conns, raw)
	if err != nil {
		return 0, err
	}
	defer closeAll(cs)
	msg := message(bytes.Repeat([]byte("m"), size), raw)
	var total atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	start := time.Now()
	for _, c := range cs {
		inFlight := make(chan struct{}, window) // a token per message sent and not yet echoed
		wg.Go(func() {
			defer c.w.Flush()
			for {
				select {
				case inFlight <- struct{}{}:
				case <-stop:
					return
				default: // the window is full: send what is buffered, then wait
					c.w.Flush()
					select {
					case inFlight <- struct{}{}:
					case <-stop:
						return
					}
				}
				c.w.Write(msg)
			}
		})
		wg.Go(func() {
			for {
				select {
				case <-inFlight:
				case <-stop:
					return
				}
				if err := c.readReply(size); err != nil {
					select {
					case <-stop: // closed at the end of the run
					default:
						errs <- err
					}
					return
				}
				total.Add(1)
			}
		})
	}
	time.Sleep(d)
	n := total.Load()
	elapsed := time.Since(start)
	close(stop)
	closeAll(cs) // unblock readers waiting for echoes that will not be counted
	wg.Wait()
	select {
	case err := <-errs:
		return 0, err
	default:
	}
	return float64(n) / elapsed.Seconds(), nil
}

// latency sends 128-byte messages at rate per second spread over conns
// connections and returns the round-trip percentiles p50, p99, p999.
func latency(sock string, raw bool, conns, rate int, d time.Duration) ([3]time.Duration, error) {
	cs, err := dialAll(sock, conns, raw)
	if err != nil {
		return [3]time.Duration{}, err
	}
	defer closeAll(cs)
	msg := message(bytes.Repeat([]byte("l"), 128), raw)
	interval := time.Duration(int64(time.Second) * int64(conns) / int64(rate))
	var mu sync.Mutex
	var rtts []time.Duration
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i, c := range cs {
		sent := make(chan time.Time, 1024)
		n := int(d / interval)
		wg.Go(func() {
			time.Sleep(interval * time.Duration(i) / time.Duration(conns)) // spread the connections out
			t := time.NewTicker(interval)
			defer t.Stop()
			for range n {
				<-t.C
				sent <- time.Now()
				c.nc.Write(msg)
			}
		})
		wg.Go(func() {
			local := make([]time.Duration, 0, n)
			for k := range n {
				c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
				if err := c.readReply(128); err != nil {
					errs <- fmt.Errorf("after %d of %d replies: %w", k, n, err)
					return
				}
				local = append(local, time.Since(<-sent))
			}
			mu.Lock()
			rtts = append(rtts, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		return [3]time.Duration{}, err
	default:
	}
	if len(rtts) == 0 {
		return [3]time.Duration{}, fmt.Errorf("no round trips measured")
	}
	slices.Sort(rtts)
	at := func(q float64) time.Duration { return rtts[min(len(rtts)-1, int(q*float64(len(rtts))))] }
	return [3]time.Duration{at(0.50), at(0.99), at(0.999)}, nil
}

// idle opens n connections that stay silent and returns the growth of the
// server's RSS per connection, in KiB, after the server collected garbage.
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
	time.Sleep(500 * time.Millisecond) // let the last handshakes finish
	after, err := srv.settledRSS()
	if err != nil {
		return 0, err
	}
	return float64(after-before) / float64(n) / 1024, nil
}

// fanout holds receivers connections; one more sends a 128-byte broadcast,
// rounds times, and the median time until every receiver has it is returned.
func fanout(sock string, receivers, rounds int) (time.Duration, error) {
	cs, err := dialAll(sock, receivers+1, false)
	if err != nil {
		return 0, err
	}
	defer closeAll(cs)
	sender := cs[receivers]
	time.Sleep(200 * time.Millisecond) // every connection registered
	msg := message(append([]byte(broadcastPrefix), bytes.Repeat([]byte("f"), 128)...), false)
	var times []time.Duration
	for range rounds {
		var wg sync.WaitGroup
		errs := make(chan error, receivers+1)
		start := time.Now()
		sender.nc.Write(msg)
		for _, c := range cs { // the sender is registered too and receives it
			wg.Go(func() {
				c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
				if err := c.readReply(128); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		times = append(times, time.Since(start))
		select {
		case err := <-errs:
			return 0, err
		default:
		}
	}
	slices.Sort(times)
	return times[len(times)/2], nil
}
