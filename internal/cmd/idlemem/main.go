// Command idlemem measures what an idle connection costs a dorrit echo
// server: it starts the server as a child process, opens N WebSocket
// connections that then stay silent, and reports the growth of the child's
// resident memory, Go heap and goroutine stacks per connection.
//
//	go run ./internal/cmd/idlemem -n 10000
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/dorritgo/dorrit"
)

func main() {
	n := flag.Int("n", 10000, "idle connections to open")
	headerBytes := flag.Int("header-bytes", 0, "extra request header bytes per connection, as small headers (nginx forwards ~7 KB)")
	serve := flag.String("serve", "", "internal: run the echo server on this socket")
	flag.Parse()
	raiseFileLimit()
	if *serve != "" {
		runServer(*serve)
		return
	}

	dir, err := os.MkdirTemp("", "idlemem")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "s.sock")
	self, _ := os.Executable()
	child := exec.Command(self, "-serve", sock)
	child.Stderr = os.Stderr
	in, _ := child.StdinPipe()
	outPipe, _ := child.StdoutPipe()
	if err := child.Start(); err != nil {
		log.Fatal(err)
	}
	defer child.Process.Kill()
	out := bufio.NewScanner(outPipe)
	out.Scan() // "ready"

	measure := func() (rss, heap, stack int64) {
		fmt.Fprintln(in, "measure")
		out.Scan()
		fmt.Sscan(out.Text(), &rss, &heap, &stack)
		return
	}
	extra := smallHeaders(*headerBytes)
	rss0, heap0, stack0 := measure()
	conns := make([]net.Conn, 0, *n)
	for i := 0; i < *n; i++ {
		c, err := dialWebSocket(sock, extra)
		if err != nil {
			log.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	time.Sleep(time.Second) // let every handshake goroutine finish and park
	rss1, heap1, stack1 := measure()
	per := func(a, b int64) float64 { return float64(b-a) / float64(*n) / 1024 }
	fmt.Printf("idle connections: %d (%s, %s), %d extra header bytes each\n", *n, runtime.Version(), runtime.GOARCH, len(extra))
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
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				for {
					msg, err := c.Read(context.Background())
					if err != nil {
						return
					}
					if c.Write(msg) != nil {
						return
					}
				}
			}()
		}
	}()
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
		fmt.Println(rssBytes(), ms.HeapInuse, ms.StackInuse)
	}
}

func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		log.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			fmt.Sscan(v, &kb)
			return kb * 1024
		}
	}
	return 0
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

func dialWebSocket(path, extra string) (net.Conn, error) {
	c, err := net.Dial("unix", path)
	if err != nil {
		return nil, err
	}
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"+extra+"\r\n")
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 101") {
		return nil, fmt.Errorf("handshake refused: %q", buf[:n])
	}
	return c, nil
}

func raiseFileLimit() {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err == nil && r.Cur < r.Max {
		r.Cur = r.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r)
	}
}
