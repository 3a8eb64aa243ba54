package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
)

// child is one server running in a process of its own, so that its memory
// can be read from /proc and it shares no heap with the load generator.
type child struct {
	cmd  *exec.Cmd
	in   io.Writer // lines asking for a settled RSS
	out  *bufio.Scanner
	sock string
}

// startChild runs this binary with -serve name on a socket in dir.
func startChild(name, dir string) (*child, error) {
	sock := filepath.Join(dir, name+".sock")
	os.Remove(sock)
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-serve", name, "-socket", sock)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, in: stdin, out: bufio.NewScanner(stdout), sock: sock}
	if !c.out.Scan() || c.out.Text() != "ready" {
		c.stop()
		return nil, fmt.Errorf("server %s did not start", name)
	}
	return c, nil
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

func (c *child) stop() {
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.cmd.Wait()
	os.Remove(c.sock)
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
