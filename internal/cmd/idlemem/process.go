package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dorritgo/dorrit/internal/procgroup"
	"github.com/dorritgo/dorrit/internal/procmem"
)

// measureProcess runs command (its "{}" replaced by a socket path) as the
// server and reports what ps reports: the resident memory of the process,
// with no GC forced in it, before and after n connections. raw connections
// send nothing (a byte-echo server has no handshake).
func measureProcess(command string, n int, raw, talk bool, extra string) error {
	dir, err := os.MkdirTemp("", "idlemem")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "s.sock")
	args := strings.Fields(strings.ReplaceAll(command, "{}", sock))
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	// Open until the end: bench's servers exit when their stdin does.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	defer stdin.Close()
	// Killed, with its process group, when idlemem ends however it ends.
	g, err := procgroup.Start(cmd)
	if err != nil {
		return err
	}
	defer g.Kill()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: no socket at %s after 30 s", args[0], sock)
		}
	}
	time.Sleep(time.Second) // the probe's connection ends; the server settles
	pid := cmd.Process.Pid
	rss0 := treeRSS(pid)
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < n; i++ {
		var c net.Conn
		var err error
		if raw {
			c, err = net.Dial("unix", sock)
			for tries := 0; errors.Is(err, syscall.EAGAIN) && tries < 100; tries++ {
				time.Sleep(10 * time.Millisecond) // the backlog is full: the server is behind
				c, err = net.Dial("unix", sock)
			}
		} else {
			c, err = procmem.Dial(sock, extra)
		}
		if err != nil {
			return fmt.Errorf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
		if talk && raw {
			err = echoBytes(c)
		} else if talk {
			err = procmem.Converse(c, []byte("hello, dorrit"))
		}
		if err != nil {
			return fmt.Errorf("connection %d: %v", i, err)
		}
	}
	dialled := time.Now()
	// As an operator looks: a while after the last connection, no GC
	// asked for; dorrit's housekeeping ticks every 7.5 s by default.
	fmt.Printf("idle connections: %d to %q (RSS of its processes, as ps shows it)\n", n, command)
	fmt.Printf("RSS before: %.1f MiB\n", float64(rss0)/(1<<20))
	for _, after := range []time.Duration{3 * time.Second, 20 * time.Second} {
		time.Sleep(after - time.Since(dialled))
		rss := treeRSS(pid)
		fmt.Printf("%2.0f s after: %.1f MiB, %.2f KiB per connection\n", after.Seconds(), float64(rss)/(1<<20), float64(rss-rss0)/float64(n)/1024)
	}
	return nil
}

// treeRSS is the resident memory of pid and its descendants: under
// lifecycle the connections live in a child of the process started.
func treeRSS(pid int) int64 {
	total := procmem.RSSOf(pid)
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", child))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces, so after the last ')'.
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			total += treeRSS(child)
		}
	}
	return total
}

// echoBytes is converse for a byte-echo server.
func echoBytes(c net.Conn) error {
	if _, err := c.Write([]byte("hello, raw")); err != nil {
		return err
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	_, err := io.ReadFull(c, make([]byte, len("hello, raw")))
	return err
}
