package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/dorritgo/dorrit"
)

// A stop under publish load (lifecycle's drain: Shutdown, then the end of
// Serve's context) refuses no publish as "not published": the broker
// outlives the handlers that publish through it. With Redis, where a
// closed broker refused the publishes still in flight.
func TestStopUnderPublishLoad(t *testing.T) {
	r := startRedis(t)
	for round := range 3 {
		ln, err := dorrit.Listen(dorrit.Options{Path: filepath.Join(t.TempDir(), "pubsub.socket")})
		if err != nil {
			t.Fatal(err)
		}
		set := defaultSettings()
		set.broker = r.url()
		ctx, cancel := context.WithCancel(context.Background())
		var running atomic.Pointer[hub]
		served := make(chan error, 1)
		go func() { served <- run(ctx, ln, set, testLogger(), &running) }()

		// Three publishers, each with 16 publishes in flight, reading
		// every reply until the server goes away.
		const publishers, window = 3, 16
		var wg sync.WaitGroup
		var acks atomic.Int64
		var mu sync.Mutex
		var refused []string
		started := make(chan struct{}, publishers)
		for p := range publishers {
			c := dialPath(t, ln.Addr().String())
			wg.Add(1)
			go func() {
				defer wg.Done()
				wctx, stop := context.WithTimeout(context.Background(), 30*time.Second)
				defer stop()
				credit := make(chan struct{}, window)
				for range window {
					credit <- struct{}{}
				}
				go func() {
					for i := 0; ; i++ {
						select {
						case <-credit:
						case <-wctx.Done():
							return
						}
						if c.c.Write(wctx, websocket.MessageText, fmt.Appendf(nil, `{"type":"publish","topic":"load%d","data":%d}`, p, i)) != nil {
							return
						}
					}
				}()
				for n := 0; ; n++ {
					e, err := c.read(20 * time.Second)
					if err != nil {
						return
					}
					if e.Type == "error" {
						mu.Lock()
						refused = append(refused, e.Error)
						mu.Unlock()
					} else {
						acks.Add(1)
					}
					if n == 100 {
						started <- struct{}{}
					}
					credit <- struct{}{}
				}
			}()
		}
		for range publishers {
			<-started
		}
		// As lifecycle stops a server: drain, then end Serve's context.
		sctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
		ln.Shutdown(sctx)
		stop()
		cancel()
		if err := <-served; err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		for _, e := range refused {
			if strings.HasPrefix(e, "not published") {
				t.Fatalf("round %d: %d acks, then %q (and %d errors in all): the stop refused a publish", round, acks.Load(), e, len(refused))
			}
		}
		t.Logf("round %d: %d acks, %d errors %q", round, acks.Load(), len(refused), refused)
	}
}
