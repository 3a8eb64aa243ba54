//go:build cgo && (linux || freebsd)

package main

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dorritgo/dorrit/internal/wstest"
)

// BenchmarkEcho compares the manual's echo server in C (echo.c on
// libdorrit.a) with the Go one (examples/echo), each a process on a unix
// socket: conns clients each pipeline their share of b.N messages (64 in
// flight) and read every echo back. It shows the price of running every
// callback on one thread: what a read of the socket brought goes to the
// callback thread and back, where the Go server answers each message on
// the connection's own goroutine.
//
//	go test -run '^$' -bench . ./dorrit
func BenchmarkEcho(b *testing.B) {
	for _, s := range echoServers {
		for _, size := range []int{128, 4 << 10} {
			for _, conns := range []int{1, 64} {
				b.Run(fmt.Sprintf("%s/%dB/conns=%d", s.name, size, conns), func(b *testing.B) {
					benchEcho(b, s.bin(b), size, conns)
				})
			}
		}
	}
}

func benchEcho(b *testing.B, bin string, size, conns int) {
	p := start(b, bin, "-m", fmt.Sprint(conns+1))
	msg := make([]byte, size)
	for i := range msg {
		msg[i] = 'm'
	}
	clients := make([]*wstest.Conn, conns)
	for i := range clients {
		c, _, err := wstest.Dial(p.sock, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		clients[i] = c
	}
	b.SetBytes(int64(size))
	b.ResetTimer()
	begin := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i, c := range clients {
		share := b.N / conns
		if i < b.N%conns {
			share++
		}
		wg.Go(func() {
			if err := pipeline(c, msg, share); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(begin).Seconds(), "msgs/s")
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// pipeline keeps up to 64 messages in flight on c (well under the 200
// frames a server queues) until n echoes came back.
func pipeline(c *wstest.Conn, msg []byte, n int) error {
	const window = 64
	credit := make(chan struct{}, window)
	go func() {
		for range n {
			select {
			case credit <- struct{}{}:
			default: // the window is full: send what is buffered, then wait
				c.Flush()
				credit <- struct{}{}
			}
			c.WriteFrameNoFlush(wstest.Frame{Fin: true, Opcode: wstest.OpText, Payload: msg})
		}
		c.Flush()
	}()
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	for i := range n {
		if _, got, err := c.ReadMessage(); err != nil || len(got) != len(msg) {
			return fmt.Errorf("echo %d of %d: %d bytes, %v", i+1, n, len(got), err)
		}
		<-credit
	}
	return nil
}
