// Package procmem holds what the measuring tools in internal/cmd (and
// dorritctl's tests) share: the README's echo server, the process's
// resident memory, the descriptor limit, and a bare upgrade for clients
// that then only hold a socket (or converse once first).
package procmem

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/internal/procgroup"
	"github.com/dorritgo/dorrit/internal/wstest"
)

// Echo serves ln with the README's accept loop until Accept fails.
func Echo(ln *dorrit.Listener) {
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
				if err := c.Write(msg); err != nil {
					return
				}
			}
		}()
	}
}

// RSS is this process's resident memory in bytes (VmRSS), 0 if unknown.
func RSS() int64 { return rssFrom("/proc/self/status") }

// RSSOf is the resident memory of process pid, as ps reports it.
func RSSOf(pid int) int64 { return rssFrom(fmt.Sprintf("/proc/%d/status", pid)) }

func rssFrom(status string) int64 {
	b, err := os.ReadFile(status)
	if err != nil {
		return 0
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

// RaiseFileLimit lifts the soft descriptor limit to the hard one.
func RaiseFileLimit() {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err == nil && r.Cur < r.Max {
		r.Cur = r.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r)
	}
}

// Dial connects to the socket at path and upgrades with extra header
// lines ("Name: value\r\n" each), within 5 s.
func Dial(path, extra string) (net.Conn, error) {
	c, err := net.Dial("unix", path)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"+extra+"\r\n")
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	if err == nil && !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 101") {
		err = fmt.Errorf("handshake refused: %q", buf[:n])
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// Converse sends msg as one masked text message on c, a connection Dial
// upgraded, and reads its echo back within 5 s: what a client does once
// before it falls silent.
func Converse(c net.Conn, msg []byte) error {
	frame, err := wstest.AppendFrame(nil, wstest.Frame{Fin: true, Opcode: wstest.OpText, Payload: msg})
	if err != nil {
		return err
	}
	if _, err := c.Write(frame); err != nil {
		return err
	}
	hdr := 2 // the server's frames are unmasked; up to 65535 bytes, 2 or 4 bytes of header
	if len(msg) > 125 {
		hdr = 4
	}
	echo := make([]byte, hdr+len(msg))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	if _, err := io.ReadFull(c, echo); err != nil {
		return err
	}
	if !bytes.Equal(echo[hdr:], msg) {
		return fmt.Errorf("echo %.20q, want %.20q", echo[hdr:], msg)
	}
	return nil
}

// A Child is this binary run again as the server under measure, on a
// socket in a temporary directory, answering one line per line asked.
type Child struct {
	Socket string
	dir    string
	cmd    *exec.Cmd
	group  *procgroup.Group
	in     io.Writer
	out    *bufio.Scanner
	mu     sync.Mutex
}

// StartChild runs this binary with -serve <socket> and args, and waits
// for the child to print its first line ("ready").
func StartChild(args ...string) (*Child, error) {
	dir, err := os.MkdirTemp("", "procmem")
	if err != nil {
		return nil, err
	}
	ch := &Child{Socket: filepath.Join(dir, "s.sock"), dir: dir}
	self, err := os.Executable()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	ch.cmd = exec.Command(self, append([]string{"-serve", ch.Socket}, args...)...)
	ch.cmd.Stderr = os.Stderr
	ch.in, _ = ch.cmd.StdinPipe()
	out, _ := ch.cmd.StdoutPipe()
	// A process group of its own, killed when this process dies: a
	// measurement (or its test) killed midway leaves no server behind.
	g, err := procgroup.Start(ch.cmd)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	ch.group = g
	ch.out = bufio.NewScanner(out)
	if !ch.out.Scan() {
		ch.Close()
		return nil, fmt.Errorf("the server child ended before it was ready")
	}
	return ch, nil
}

// Ask sends one line to the child and returns the line it answers.
func (ch *Child) Ask(line string) string {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	fmt.Fprintln(ch.in, line)
	ch.out.Scan()
	return ch.out.Text()
}

// Close kills the child and removes its directory.
func (ch *Child) Close() {
	ch.group.Kill()
	os.RemoveAll(ch.dir)
}
