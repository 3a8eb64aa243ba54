// Package procmem holds what the measuring tools in internal/cmd (and
// dorritctl's tests) share: the README's echo server, the process's
// resident memory, the descriptor limit, and a bare upgrade for clients
// that then only hold a socket.
package procmem

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/dorritgo/dorrit"
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
				if err := c.Write(msg); err != nil && !errors.Is(err, dorrit.ErrEmptyMessage) {
					return
				}
			}
		}()
	}
}

// RSS is this process's resident memory in bytes (VmRSS), 0 if unknown.
func RSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
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
