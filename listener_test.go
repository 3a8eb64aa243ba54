package dorrit_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/internal/wstest"
)

// Rule 6: at MaxConns the next handshake gets 503 with Retry-After, nothing
// is upgraded, and the open connections are untouched.
func TestRuleMaxConns(t *testing.T) {
	ended := make(chan struct{}, 4)
	ln := serve(t, dorrit.Options{MaxConns: 2}, func(c *dorrit.MessageConn) {
		echo(c)
		ended <- struct{}{}
	})
	a, b := dialRaw(t, ln), dialRaw(t, ln)
	_, resp, err := wstest.Dial(sockPath(ln), nil)
	var he *wstest.HandshakeError
	if !errors.As(err, &he) {
		t.Fatalf("third connection: %v, want a refused handshake", err)
	}
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third connection got %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	roundTrip(t, a, "a untouched")
	roundTrip(t, b, "b untouched")
	if s := ln.Stats(); s.Live != 2 || s.Refused.Full != 1 || s.Accepted != 2 {
		t.Fatalf("stats %+v", s)
	}
	a.WriteClose(1000, "")
	expectClose(t, a, 1000)
	<-ended
	waitStats(t, ln, func(s dorrit.Stats) bool { return s.Live == 1 })
	roundTrip(t, dialRaw(t, ln), "a slot came free")
}

// Rule 8: the socket is created with mode srwxrwx---, a stale file is
// replaced and the file is removed on Close.
func TestRuleSocketFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	stale, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close() // leaves the file behind, as a crashed server does

	ln, err := dorrit.Listen(dorrit.Options{Path: path})
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().String(); got != "Srwxrwx---" {
		t.Fatalf("socket mode %s, want Srwxrwx---", got)
	}
	if _, err := dorrit.Listen(dorrit.Options{Path: path}); err == nil || !strings.Contains(err.Error(), "another server is listening") {
		t.Fatalf("second Listen on a live socket: %v", err)
	}
	ln.Close()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket file left after Close: %v", err)
	}
}

// Rule 8: the socket belongs to SocketUser/SocketGroup. Needs root.
func TestRuleSocketOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("changing a socket's owner needs root; CI runs as root")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody on this system")
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	path := filepath.Join(dir, "s.sock")
	ln, err := dorrit.Listen(dorrit.Options{Path: path, SocketUser: "nobody", SocketGroup: g.Name})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	if strconv.Itoa(int(st.Uid)) != u.Uid || strconv.Itoa(int(st.Gid)) != u.Gid {
		t.Fatalf("socket owned by %d:%d, want nobody:%s (%s:%s)", st.Uid, st.Gid, g.Name, u.Uid, u.Gid)
	}
	if _, err := dorrit.Listen(dorrit.Options{Path: filepath.Join(dir, "t.sock"), SocketUser: "no-such-user-dorrit"}); !errors.Is(err, dorrit.ErrInvalidOptions) {
		t.Fatalf("unknown user: %v", err)
	}
}

func TestListenRejectsBadOptions(t *testing.T) {
	dir := t.TempDir()
	notSocket := filepath.Join(dir, "file")
	os.WriteFile(notSocket, []byte("keep me"), 0o644)
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	cases := []struct {
		name string
		o    dorrit.Options
		want string
	}{
		{"buffer too small", dorrit.Options{Path: filepath.Join(dir, "a"), BufferSize: 9}, "10..65540"},
		{"buffer too large", dorrit.Options{Path: filepath.Join(dir, "a"), BufferSize: 65541}, "10..65540"},
		{"negative MaxConns", dorrit.Options{Path: filepath.Join(dir, "a"), MaxConns: -1}, "MaxConns"},
		{"negative PongTimeout", dorrit.Options{Path: filepath.Join(dir, "a"), PongTimeout: -time.Second}, "PongTimeout"},
		{"path too long", dorrit.Options{Path: "/tmp/" + strings.Repeat("x", 120)}, "at most 107 bytes"},
		{"missing directory", dorrit.Options{Path: filepath.Join(dir, "no", "such", "dir", "s")}, "must exist and be writable"},
		{"not a socket", dorrit.Options{Path: notSocket}, "not a socket"},
		{"TCP listener", dorrit.Options{Listener: tcp}, "UNIX-domain stream sockets only"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := dorrit.Listen(tc.o)
			if err == nil {
				ln.Close()
				t.Fatal("Listen succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
	if b, _ := os.ReadFile(notSocket); string(b) != "keep me" {
		t.Fatal("Listen damaged a file that is not a socket")
	}
}

// An inherited listener is adopted and its file is never unlinked.
func TestAdoptListener(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln := serve(t, dorrit.Options{Listener: ul}, echo)
	roundTrip(t, dialRaw(t, ln), "adopted")
	ln.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("adopted socket file was removed: %v", err)
	}
}

// Shutdown's 1001 reaches every client even though each handler, woken
// from Read by the shutdown, closes its connection with 1000 on the way out.
func TestShutdownCodeWinsOverHandlerClose(t *testing.T) {
	ln := serve(t, dorrit.Options{}, echo)
	var cs []*wstest.Conn
	for range 32 {
		c := dialRaw(t, ln)
		roundTrip(t, c, "hello")
		cs = append(cs, c)
	}
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- ln.Shutdown(ctx)
	}()
	for i, c := range cs {
		var ce *wstest.CloseFrameError
		if _, _, err := c.ReadMessage(); !errors.As(err, &ce) || ce.Code != 1001 {
			t.Errorf("client %d: %v, want close 1001", i, err)
		}
		c.WriteClose(1001, "")
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// Shutdown delivers queued messages, closes with 1001 and waits.
func TestShutdown(t *testing.T) {
	queued := make(chan struct{})
	ln := serve(t, dorrit.Options{}, func(c *dorrit.MessageConn) {
		c.Read(context.Background())
		for i := range 50 {
			c.Write(numbered(i))
		}
		close(queued)
		c.Read(context.Background()) // returns ErrClosed when Shutdown starts
	})
	c := dialRaw(t, ln)
	c.WriteText([]byte("go"))
	<-queued
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- ln.Shutdown(ctx)
	}()
	for i := range 50 {
		_, got, err := c.ReadMessage()
		if err != nil || string(got[:6]) != string(numbered(i)[:6]) {
			t.Fatalf("message %d: %.6q %v", i, got, err)
		}
	}
	var ce *wstest.CloseFrameError
	if _, _, err := c.ReadMessage(); !errors.As(err, &ce) || ce.Code != 1001 {
		t.Fatalf("after the queue: %v, want close 1001", err)
	}
	c.WriteClose(1001, "")
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) || !errors.Is(err, dorrit.ErrClosed) {
		t.Fatalf("Accept after Shutdown: %v", err)
	}
	if s := ln.Stats(); s.Live != 0 {
		t.Fatalf("%d connections live after Shutdown", s.Live)
	}
}

// Close stops accepting but refuses nothing it already took in: a
// handshake in progress completes with 101 and Accept hands its connection
// out, then reports the listener closed. (A graceful upgrade closes the old
// listener while clients are mid-handshake.)
func TestCloseHandsOutHandshakesInProgress(t *testing.T) {
	ln, err := dorrit.Listen(dorrit.Options{Path: filepath.Join(t.TempDir(), "s.sock")})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.Dial("unix", sockPath(ln))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
	nc.Write([]byte(req[:20]))
	for deadline := time.Now().Add(10 * time.Second); ln.Stats().Handshaking != 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the server did not take the connection in within 10 s")
		}
	}
	accepted := make(chan *dorrit.MessageConn, 1)
	go func() {
		c, _ := ln.Accept()
		if c != nil {
			c.CloseRead(context.Background()) // reading sends the 101
		}
		accepted <- c
	}()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	nc.Write([]byte(req[20:]))
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake in progress at Close: %s, want 101", resp.Status)
	}
	if c := <-accepted; c == nil {
		t.Fatal("Accept did not hand out the connection upgraded after Close")
	} else {
		c.CloseNow()
	}
	if _, err := ln.Accept(); !errors.Is(err, dorrit.ErrClosed) {
		t.Fatalf("Accept once nothing is in progress: %v, want ErrClosed", err)
	}
}

// 10,000 idle connections dropped at once by their clients: the server
// notices every one, and its goroutines and descriptors come back to
// where they were, while a new client is still served. Both ends live in
// this process, so the descriptor limit may allow somewhat fewer.
func TestManyIdleConnectionsDroppedAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 10,000 connections")
	}
	var old syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old)
	lim := old
	lim.Cur = lim.Max
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	defer syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old)
	n := min(10000, (int(lim.Cur)-1000)/2)
	if n < 1000 {
		t.Skipf("the descriptor limit %d allows too few connections", lim.Cur)
	}

	ln := serve(t, dorrit.Options{MaxConns: 2 * n}, echo)
	fds := func() int { e, _ := os.ReadDir("/proc/self/fd"); return len(e) }
	baseG, baseFD := runtime.NumGoroutine(), fds()
	req := []byte("GET / HTTP/1.1\r\nHost: x\r\n" + upgradeHeaders + "Sec-WebSocket-Version: 13\r\n\r\n")
	conns := make([]net.Conn, 0, n)
	for range n {
		c, err := net.Dial("unix", sockPath(ln))
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		c.Write(req)
	}
	buf := make([]byte, 512)
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		if k, err := c.Read(buf); err != nil || !strings.HasPrefix(string(buf[:k]), "HTTP/1.1 101") {
			t.Fatalf("handshake: %q %v", buf[:k], err)
		}
	}
	waitStats(t, ln, func(s dorrit.Stats) bool { return s.Live == int64(n) })
	start := time.Now()
	for _, c := range conns {
		c.Close()
	}
	deadline := start.Add(20 * time.Second)
	for ln.Stats().Live != 0 || runtime.NumGoroutine() > baseG+10 || fds() > baseFD+10 {
		if time.Now().After(deadline) {
			t.Fatalf("20 s after the clients left: %d live, %d goroutines (%d before), %d descriptors (%d before)",
				ln.Stats().Live, runtime.NumGoroutine(), baseG, fds(), baseFD)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("%d connections ended, goroutines and descriptors back to the baseline %v after their clients left", n, time.Since(start).Round(time.Millisecond))
	roundTrip(t, dialRaw(t, ln), "still served")
}

// TestFDLimitedServerHelper is the server TestOutOfDescriptors runs in a
// process of its own with 64 descriptors; it does nothing in a normal run.
func TestFDLimitedServerHelper(t *testing.T) {
	path := os.Getenv("DORRIT_FD_SERVER")
	if path == "" {
		t.Skip("run by TestOutOfDescriptors")
	}
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: 64, Max: 64})
	serve(t, dorrit.Options{Path: path}, echo)
	os.Stdout.WriteString("ready\n")
	select {} // until killed
}

// Out of descriptors, the server neither spins nor exits: clients it cannot
// accept wait in the socket's backlog and are served once descriptors are
// free again.
func TestOutOfDescriptors(t *testing.T) {
	if testing.Short() {
		t.Skip("watches a server's CPU time for 2 s")
	}
	path := filepath.Join(t.TempDir(), "s.sock")
	cmd := exec.Command(os.Args[0], "-test.run=^TestFDLimitedServerHelper$")
	cmd.Env = append(os.Environ(), "DORRIT_FD_SERVER="+path)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		t.Fatalf("server helper: %q", line)
	}
	const clients = 100
	type result struct {
		c   net.Conn
		err error
	}
	served := make(chan result, clients)
	req := []byte("GET / HTTP/1.1\r\nHost: x\r\n" + upgradeHeaders + "Sec-WebSocket-Version: 13\r\n\r\n")
	for range clients {
		go func() {
			c, err := net.Dial("unix", path)
			if err == nil {
				c.SetDeadline(time.Now().Add(30 * time.Second))
				c.Write(req)
				buf := make([]byte, 512)
				var k int
				if k, err = c.Read(buf); err == nil && !strings.HasPrefix(string(buf[:k]), "HTTP/1.1 101") {
					err = fmt.Errorf("answered %q", buf[:k])
				}
			}
			served <- result{c, err}
		}()
	}
	// Those the server could take in are served; the rest wait.
	var open []net.Conn
	for len(open) < 40 {
		r := <-served
		if r.err != nil {
			t.Fatalf("client %d: %v", len(open), r.err)
		}
		open = append(open, r.c)
	}
	cpu := func() time.Duration {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid))
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
		utime, _ := strconv.Atoi(f[11])
		stime, _ := strconv.Atoi(f[12])
		return time.Duration(utime+stime) * 10 * time.Millisecond // USER_HZ is 100 on Linux
	}
	before := cpu()
	time.Sleep(2 * time.Second) // the measurement window, not a wait for an event
	if used := cpu() - before; used > 400*time.Millisecond {
		t.Fatalf("the server used %v of CPU in 2 s while out of descriptors: it spins", used)
	}
	select {
	case r := <-served:
		if r.err != nil {
			t.Fatalf("a waiting client failed while descriptors were out: %v", r.err)
		}
		open = append(open, r.c)
	default:
	}
	start := time.Now()
	for _, c := range open {
		c.Close()
	}
	for got := len(open); got < clients; got++ {
		r := <-served
		if r.err != nil {
			t.Fatalf("a client that waited for a descriptor: %v", r.err)
		}
		r.c.Close()
	}
	t.Logf("all %d clients served, the last %v after descriptors came back", clients, time.Since(start).Round(time.Millisecond))
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("the server is gone: %v", err)
	}
}
