// Command idlemem measures what an idle connection costs a dorrit echo
// server: it starts the server as a child process, opens N WebSocket
// connections that then stay silent, and reports the growth of the child's
// resident memory, Go heap and goroutine stacks per connection.
//
//	go run ./internal/cmd/idlemem -n 10000
//
// With -process it measures another server program the way ps does (its
// resident memory, no GC forced), e.g. the shipped example under lifecycle:
//
//	go build -o /tmp/echo ./examples/echo
//	go run ./internal/cmd/idlemem -n 10000 -process "/tmp/echo -x -l {}"
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/internal/procmem"
)

func main() {
	n := flag.Int("n", 10000, "idle connections to open")
	headerBytes := flag.Int("header-bytes", 0, "extra request header bytes per connection, as small headers (nginx forwards ~7 KB)")
	serve := flag.String("serve", "", "internal: run the echo server on this socket")
	process := flag.String("process", "", "measure this server program instead, as ps does; {} stands for its socket, e.g. \"./echo -x -l {}\"")
	talk := flag.Bool("talk", false, "each connection sends one message and reads its echo before it falls silent, as a real client's does")
	raw := flag.Bool("raw", false, "with -process: connect without a WebSocket handshake (a byte-echo server)")
	flag.Parse()
	procmem.RaiseFileLimit()
	if *process != "" {
		if err := measureProcess(*process, *n, *raw, *talk, smallHeaders(*headerBytes)); err != nil {
			log.Fatal(err)
		}
		return
	}
	if *serve != "" {
		runServer(*serve)
		return
	}

	child, err := procmem.StartChild()
	if err != nil {
		log.Fatal(err)
	}
	defer child.Close()
	sock := child.Socket
	measure := func() (rss, heap, stack int64) {
		fmt.Sscan(child.Ask("measure"), &rss, &heap, &stack)
		return
	}
	extra := smallHeaders(*headerBytes)
	rss0, heap0, stack0 := measure()
	conns := make([]net.Conn, 0, *n)
	for i := 0; i < *n; i++ {
		c, err := procmem.Dial(sock, extra)
		if err != nil {
			log.Fatalf("connection %d: %v", i, err)
		}
		if *talk {
			if err := procmem.Converse(c, []byte("hello, dorrit")); err != nil {
				log.Fatalf("connection %d: %v", i, err)
			}
		}
		conns = append(conns, c)
	}
	time.Sleep(time.Second) // let every handshake goroutine finish and park
	rss1, heap1, stack1 := measure()
	per := func(a, b int64) float64 { return float64(b-a) / float64(*n) / 1024 }
	fmt.Printf("idle connections: %d (%s, %s), %d extra header bytes each, talked first: %v\n", *n, runtime.Version(), runtime.GOARCH, len(extra), *talk)
	fmt.Printf("RSS per connection:    %.2f KiB\n", per(rss0, rss1))
	fmt.Printf("heap per connection:   %.2f KiB\n", per(heap0, heap1))
	fmt.Printf("stacks per connection: %.2f KiB (the application's goroutine blocked in Read)\n", per(stack0, stack1))
	for _, c := range conns {
		c.Close()
	}
}

// runServer is the examples/echo server, reporting its memory on request.
func runServer(path string) {
	if os.Getenv("IDLEMEM_HEAPPROFILE") != "" {
		runtime.MemProfileRate = 1 // every allocation, so that small ones are not sampled away
	}
	ln, err := dorrit.Listen(dorrit.Options{Path: path, MaxConns: 1 << 20})
	if err != nil {
		log.Fatal(err)
	}
	go procmem.Echo(ln)
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		runtime.GC()
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if p := os.Getenv("IDLEMEM_HEAPPROFILE"); p != "" {
			if f, err := os.Create(p); err == nil {
				pprof.WriteHeapProfile(f)
				f.Close()
			}
		}
		fmt.Println(procmem.RSS(), ms.HeapInuse, ms.StackInuse)
	}
}

// smallHeaders is about n bytes of distinct headers of the size a front
// server and a browser add (X-Forwarded-*, cookies, client hints).
func smallHeaders(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "X-Extra-%d: value-%d-abcdefghij\r\n", i, i)
	}
	return b.String()
}
