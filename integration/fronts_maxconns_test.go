package integration

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// maxConns is dorrit's default MaxConns, which the echo example runs with.
const maxConns = 2000

// Through each front server, with the configuration dorritctl prints:
// 2,000 WebSockets held at once reach the echo example, the 2,001st is
// refused with dorrit's 503 and its Retry-After (the front server passes
// the answer through), the held ones still echo, and a place freed is
// taken again. A front server whose own limits are below 2,000 tunnels
// (nginx's worker_connections, HAProxy's maxconn, Apache's worker
// threads) fails the dial of the held ones or answers the 2,001st itself.
func TestFrontsMaxConns(t *testing.T) {
	for _, f := range fronts {
		t.Run(f.name, func(t *testing.T) {
			socket := filepath.Join(sharedDir(t), "echo.socket")
			startServer(t, "echo", echoBin, socket, nil)
			conf, listen := frontConfig(t, f, "echo", socket)
			f.start(t, conf, listen)

			start := time.Now()
			conns := holdConns(t, listen, maxConns)
			held := time.Since(start)

			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, resp, err := dialFront(ctx, listen)
			if err == nil {
				c.CloseNow()
				t.Fatalf("connection %d was upgraded: want dorrit's 503", maxConns+1)
			}
			// dorrit's own 503, passed on: not one the front server made.
			why := refusal(resp)
			if resp == nil || resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(why, "dorrit: server is at its connection limit") {
				t.Fatalf("connection %d: %v (%s); want dorrit's 503 with Retry-After", maxConns+1, err, why)
			}
			t.Logf("%d held in %v; connection %d: %s", maxConns, held.Round(time.Millisecond), maxConns+1, why)

			for _, i := range []int{0, maxConns / 2, maxConns - 1} {
				msg := fmt.Sprintf("still here %d", i)
				if err := conns[i].Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
					t.Fatalf("held connection %d: %v", i, err)
				}
				if _, got, err := conns[i].Read(ctx); err != nil || string(got) != msg {
					t.Fatalf("held connection %d: echo %q, %v", i, got, err)
				}
			}

			// The server frees the place once the front server has passed
			// the close on: until then a dial may still get 503.
			conns[0].Close(websocket.StatusNormalClosure, "")
			for {
				c, resp, err := dialFront(ctx, listen)
				if err == nil {
					c.CloseNow()
					break
				}
				if resp == nil || resp.StatusCode != 503 || ctx.Err() != nil {
					t.Fatalf("a dial after one of %d closed: %v (%s)", maxConns, err, refusal(resp))
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// holdConns opens n WebSockets through the front server at listen, a few
// dozen dials at a time, and closes them when the test ends.
func holdConns(t *testing.T, listen string, n int) []*websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conns := make([]*websocket.Conn, n)
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.CloseNow()
			}
		}
	})
	next := make(chan int)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for i := range next {
				c, resp, err := dialFront(ctx, listen)
				if err != nil {
					errs <- fmt.Errorf("connection %d of %d: %v (%s)", i+1, n, err, refusal(resp))
					continue
				}
				conns[i] = c
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	if err, failed := <-errs; failed {
		t.Fatalf("%v (and %d more failed)", err, len(errs))
	}
	return conns
}
