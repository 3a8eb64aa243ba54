package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dorritgo/dorrit/internal/procgroup"
)

// child is one server running in a process of its own, so that its memory
// can be read from /proc and it shares no heap with the load generator.
type child struct {
	name string
	cmd  *exec.Cmd
	in   *os.File // lines asking for a settled RSS
	out  *bufio.Scanner
	rout *os.File // the read end out scans
	sock string

	group  *procgroup.Group // dies with this process, however it dies
	exited <-chan struct{}  // closed once the process has ended and been reaped
	killed atomic.Bool      // ended by stop, not on its own
	once   sync.Once
}

// startChild runs this binary with -serve name on a socket in dir; ready
// waits until it listens. The two are apart so that a watchdog can stop a
// server that hangs while starting.
func startChild(name, dir string) (*child, error) {
	sock := filepath.Join(dir, name+".sock")
	os.Remove(sock)
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	// Pipes of our own rather than cmd.StdinPipe and StdoutPipe: Wait
	// closes those as soon as the process ends, and the process is reaped
	// in the background from the start (so that a crash is seen when it
	// happens), which would race with reading them.
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	cmd := exec.Command(self, "-serve", name, "-socket", sock)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, os.Stderr
	// A process group of its own, killed when this process dies: a bench
	// run (or its test) killed midway leaves no server behind.
	g, err := procgroup.Start(cmd)
	inR.Close() // the child holds its own copies
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, err
	}
	return &child{name: name, cmd: cmd, in: inW, out: bufio.NewScanner(outR), rout: outR, sock: sock,
		group: g, exited: g.Done()}, nil
}

// ready waits for the server's "ready" line.
func (c *child) ready() error {
	if !c.out.Scan() || c.out.Text() != "ready" {
		return fmt.Errorf("server %s did not start", c.name)
	}
	return nil
}

// settledRSS asks the server to collect garbage and return memory to the
// system, then reads its resident set size.
func (c *child) settledRSS() (int64, error) {
	fmt.Fprintln(c.in, "settle")
	if !c.out.Scan() {
		return 0, fmt.Errorf("server process gone")
	}
	return rss(c.cmd.Process.Pid)
}

// stop kills the process and waits for it. It may be called more than once
// and from a watchdog while a workload still runs: killing the server ends
// every wait of the load generator, all of them on its socket or its pipe.
func (c *child) stop() {
	c.once.Do(func() {
		c.killed.Store(true)
		c.group.Kill()
		c.in.Close()
		c.rout.Close()
		os.Remove(c.sock)
	})
}

// died says how the process ended if it ended on its own, as a suffix for
// an error, or "" if it still runs. A crashing server's connections end as
// it exits, so the load generator may see the error a moment before the
// process is reaped: died waits that moment.
func (c *child) died() string {
	select {
	case <-c.exited:
	case <-time.After(200 * time.Millisecond):
		return ""
	}
	if c.killed.Load() {
		return ""
	}
	waitErr := c.group.Err()
	if waitErr == nil {
		return "; server process exited with status 0"
	}
	return "; server process: " + waitErr.Error()
}

func rss(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			fmt.Sscan(v, &kb)
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS for %d", pid)
}

// runChild is the -serve side: it serves on the socket and settles its
// memory whenever a line arrives on stdin.
func runChild(name, sock string) {
	srv, ok := servers[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown server %q; known: %v\n", name, serverNames())
		os.Exit(2)
	}
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go func() {
		in := bufio.NewScanner(os.Stdin)
		for in.Scan() {
			runtime.GC()
			debug.FreeOSMemory()
			fmt.Println("settled")
		}
		os.Exit(0) // the load generator is gone
	}()
	fmt.Println("ready")
	if err := srv(ul); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// raiseFileLimit lets this process hold as many descriptors as it may: up to
// the hard limit, and past it when running as root.
func raiseFileLimit() {
	var r syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r) != nil {
		return
	}
	if r.Max < 1<<20 && syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: 1 << 20, Max: 1 << 20}) == nil {
		return
	}
	r.Cur = r.Max
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r)
}
