package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/internal/procmem"
)

// A sample is what the server child reports about itself when asked.
type sample struct {
	RSS        int64        `json:"rss"`  // VmRSS
	Heap       uint64       `json:"heap"` // runtime HeapInuse
	Stack      uint64       `json:"stack"`
	Goroutines int          `json:"goroutines"`
	Threads    int          `json:"threads"`
	FDs        int          `json:"fds"`
	Stats      dorrit.Stats `json:"stats"`
}

// runServer is the README's echo server (procmem.Echo) with the default
// options but for MaxConns (and PingInterval and PongTimeout when -ping
// and -pong are set), answering each line on stdin with a sample:
// "gc" first collects and returns freed memory to the OS, anything else
// measures the server as it is.
func runServer(path string, maxConns int, ping, pong time.Duration, fault string) error {
	procmem.RaiseFileLimit()
	ln, err := dorrit.Listen(dorrit.Options{Path: path, MaxConns: maxConns, PingInterval: ping, PongTimeout: pong})
	if err != nil {
		return err
	}
	if err := serve(ln, fault); err != nil {
		return err
	}
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		if in.Text() == "gc" {
			runtime.GC()
			debug.FreeOSMemory()
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		s := sample{
			RSS: procmem.RSS(), Heap: ms.HeapInuse, Stack: ms.StackInuse,
			Goroutines: runtime.NumGoroutine(), Threads: threads(), FDs: openFiles(),
			Stats: ln.Stats(),
		}
		if err := out.Encode(s); err != nil {
			return err
		}
	}
	return nil
}

// openFiles is how many descriptors this process holds, -1 if unknown.
func openFiles() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents) - 1 // the directory ReadDir itself opened
}

// threads is this process's OS thread count (Threads in
// /proc/self/status), -1 if unknown.
func threads() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n := -1
			fmt.Sscan(v, &n)
			return n
		}
	}
	return -1
}
