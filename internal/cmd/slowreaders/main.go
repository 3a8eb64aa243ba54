// Command slowreaders measures what clients that send and never read can
// make an echo server hold: it starts the README's echo server as a child
// process, lets N clients send 64 KiB messages without reading (each one
// reconnecting when dropped) for a while, and meanwhile times a normal
// client's handshakes. It reports the child's peak RSS, the handshake
// percentiles, and how long RSS takes to come back after the clients leave.
//
//	go run ./internal/cmd/slowreaders -n 200 -for 20s
//	go run ./internal/cmd/slowreaders -n 200 -for 20s -max-queue-bytes -1   # no budget
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/internal/procmem"
	"github.com/dorritgo/dorrit/lifecycle"
)

func main() {
	n := flag.Int("n", 200, "clients that send and never read")
	dur := flag.Duration("for", 20*time.Second, "how long they send")
	budget := flag.Int64("max-queue-bytes", 0, "the server's Options.MaxQueueBytes (0: its default, -1: none)")
	serve := flag.String("serve", "", "internal: run the echo server on this socket")
	flag.Parse()
	procmem.RaiseFileLimit()
	if *serve != "" {
		runServer(*serve, *budget)
		return
	}

	child, err := procmem.StartChild("-max-queue-bytes", strconv.FormatInt(*budget, 10))
	if err != nil {
		log.Fatal(err)
	}
	defer child.Close()
	sock := child.Socket
	rss := func(gc bool) int64 {
		line := "rss"
		if gc {
			line = "gc"
		}
		v, _ := strconv.ParseInt(child.Ask(line), 10, 64)
		return v
	}
	idle := rss(true)

	ctx, stop := context.WithTimeout(context.Background(), *dur)
	var clients sync.WaitGroup
	var conns []net.Conn
	var cmu sync.Mutex
	for range *n {
		clients.Go(func() {
			for ctx.Err() == nil {
				c, err := procmem.Dial(sock, "")
				if err != nil {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				cmu.Lock()
				conns = append(conns, c)
				cmu.Unlock()
				frame := maskedText(64<<10 - 1) // the largest message the default allows
				for ctx.Err() == nil {
					c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
					if _, err := c.Write(frame); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
						break // dropped by the server: come back
					}
				}
			}
		})
	}
	var peak int64
	var handshakes []time.Duration
	for tick := time.NewTicker(100 * time.Millisecond); ctx.Err() == nil; <-tick.C {
		peak = max(peak, rss(false))
		start := time.Now()
		if c, err := procmem.Dial(sock, ""); err == nil {
			handshakes = append(handshakes, time.Since(start))
			c.Close()
		}
	}
	stop()
	clients.Wait()
	for _, c := range conns {
		c.Close()
	}
	left := time.Now()
	back := time.Duration(-1)
	for time.Since(left) < 30*time.Second {
		time.Sleep(time.Second)
		if rss(false) <= 2*idle {
			back = time.Since(left)
			break
		}
	}
	slices.Sort(handshakes)
	pct := func(p int) time.Duration {
		if len(handshakes) == 0 {
			return 0
		}
		return handshakes[len(handshakes)*p/100].Round(10 * time.Microsecond)
	}
	mib := func(b int64) float64 { return float64(b) / (1 << 20) }
	fmt.Printf("%d slow readers for %v, MaxQueueBytes %d (%s, %s)\n", *n, *dur, *budget, runtime.Version(), runtime.GOARCH)
	fmt.Printf("RSS idle %.0f MiB, peak %.0f MiB\n", mib(idle), mib(peak))
	fmt.Printf("normal handshakes: %d, p50 %v, p90 %v, p99 %v\n", len(handshakes), pct(50), pct(90), pct(99))
	if back >= 0 {
		fmt.Printf("RSS within 2 × idle %v after the clients left\n", back.Round(time.Second))
	} else {
		fmt.Printf("RSS still %.0f MiB (over 2 × idle) 30 s after the clients left\n", mib(rss(false)))
	}
}

// runServer is the README's echo server, reporting its RSS on request. It
// gives memory back as a server under lifecycle does (ReleaseMemory).
func runServer(path string, budget int64) {
	ln, err := dorrit.Listen(dorrit.Options{Path: path, MaxConns: 1 << 20, MaxQueueBytes: budget})
	if err != nil {
		log.Fatal(err)
	}
	go lifecycle.ReleaseMemory(context.Background(), ln)
	go procmem.Echo(ln)
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() == "gc" {
			runtime.GC()
			debug.FreeOSMemory()
		}
		fmt.Println(procmem.RSS())
	}
}

// maskedText is one masked text frame of n (126..65535) bytes of 'x', with
// a zero mask key.
func maskedText(n int) []byte {
	b := []byte{0x81, 0x80 | 126, byte(n >> 8), byte(n), 0, 0, 0, 0}
	return append(b, strings.Repeat("x", n)...)
}
