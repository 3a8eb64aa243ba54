package dorrit_test

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/internal/wstest"
)

// BenchmarkEcho measures echo round trips through a dorrit server on a
// unix socket: conns clients each pipeline their share of b.N messages
// (a window of 64 in flight) and read every echo back. The clients send a
// pre-masked frame and parse replies without allocating, so allocs/op is
// the server's.
func BenchmarkEcho(b *testing.B) {
	for _, size := range []int{128, 4 << 10, 60 << 10} {
		for _, conns := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/conns=%d", sizeName(size), conns), func(b *testing.B) {
				benchEcho(b, size, conns)
			})
		}
	}
}

func sizeName(n int) string {
	if n >= 1024 {
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

func benchEcho(b *testing.B, size, conns int) {
	ln := serve(b, dorrit.Options{MaxConns: conns + 1}, echo)
	frame := maskedTextFrame(strings.Repeat("m", size))
	clients := make([]net.Conn, conns)
	for i := range clients {
		clients[i] = dialForBench(b, sockPath(ln))
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for i, c := range clients {
		share := b.N / conns
		if i < b.N%conns {
			share++
		}
		wg.Go(func() { pipeline(b, c, frame, share) })
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// pipeline keeps up to 64 messages in flight on c until n echoes came back.
func pipeline(b *testing.B, c net.Conn, frame []byte, n int) {
	const window = 64
	credit := make(chan struct{}, window)
	go func() {
		w := bufio.NewWriterSize(c, 64<<10)
		for range n {
			select {
			case credit <- struct{}{}:
			default: // the window is full: send what is buffered, then wait
				w.Flush()
				credit <- struct{}{}
			}
			w.Write(frame)
		}
		w.Flush()
	}()
	r := bufio.NewReaderSize(c, 64<<10)
	var hdr [10]byte
	for range n {
		if err := skipFrame(r, hdr[:]); err != nil {
			b.Error(err)
			return
		}
		<-credit
	}
}

// skipFrame reads one whole unmasked server frame and discards it.
func skipFrame(r *bufio.Reader, hdr []byte) error {
	if _, err := io.ReadFull(r, hdr[:2]); err != nil {
		return err
	}
	n := int64(hdr[1] & 0x7f)
	switch n {
	case 126:
		if _, err := io.ReadFull(r, hdr[:2]); err != nil {
			return err
		}
		n = int64(binary.BigEndian.Uint16(hdr))
	case 127:
		if _, err := io.ReadFull(r, hdr[:8]); err != nil {
			return err
		}
		n = int64(binary.BigEndian.Uint64(hdr))
	}
	_, err := r.Discard(int(n))
	return err
}

// maskedTextFrame is msg as a client sends it, built once per benchmark.
func maskedTextFrame(msg string) []byte {
	f, _ := wstest.AppendFrame(nil, wstest.Frame{Fin: true, Opcode: wstest.OpText, Payload: []byte(msg)})
	return f
}

func dialForBench(b *testing.B, path string) net.Conn {
	c, err := net.Dial("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: bench\r\n"+upgradeHeaders+"Sec-WebSocket-Version: 13\r\n\r\n")
	var resp [129]byte
	n, err := c.Read(resp[:])
	if err != nil || !strings.HasPrefix(string(resp[:n]), "HTTP/1.1 101") || !strings.HasSuffix(string(resp[:n]), "\r\n\r\n") {
		b.Fatalf("handshake: %q %v", resp[:n], err)
	}
	return c
}

// BenchmarkRoundTrip measures echo round trips with one message in flight
// per connection, the latency-bound case that BenchmarkEcho's window of 64
// hides: each client sends a 128-byte message and waits for its echo.
func BenchmarkRoundTrip(b *testing.B) {
	for _, conns := range []int{1, 16} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			ln := serve(b, dorrit.Options{MaxConns: conns + 1}, echo)
			frame := maskedTextFrame(strings.Repeat("m", 128))
			clients := make([]net.Conn, conns)
			for i := range clients {
				clients[i] = dialForBench(b, sockPath(ln))
			}
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			for i, c := range clients {
				share := b.N / conns
				if i < b.N%conns {
					share++
				}
				wg.Go(func() {
					r := bufio.NewReader(c)
					var hdr [10]byte
					for range share {
						if _, err := c.Write(frame); err != nil {
							b.Error(err)
							return
						}
						if err := skipFrame(r, hdr[:]); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
		})
	}
}

// BenchmarkWriteUTF8Check is what Write's UTF-8 check of an outgoing
// message costs, by size (BENCHMARKS.md sets it against an echo).
func BenchmarkWriteUTF8Check(b *testing.B) {
	for _, size := range []int{128, 4 << 10, 60 << 10} {
		msg := []byte(strings.Repeat("x", size-len("é")) + "é")
		b.Run(sizeName(size), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				if !utf8.Valid(msg) {
					b.Fatal("invalid")
				}
			}
		})
	}
}
