package dorrit_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dorritgo/dorrit"
)

// asNobody runs this test binary as the user nobody, dialing socket and
// printing either the server's status line or the dial error.
func asNobody(t *testing.T, socket string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("running a client as another user needs root; CI runs as root")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody on this system")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	// The test binary lives in a directory only root may enter.
	bin := filepath.Join(worldDir(t), "dial")
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestDialHelper$")
	cmd.Env = []string{"DORRIT_DIAL=" + socket}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("dial helper: %v\n%s", err, out)
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return line
}

// worldDir is a temporary directory every user may enter.
func worldDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "dorrit-peer") // t.TempDir's parent is private
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestDialHelper is the client asNobody runs; it does nothing in a normal run.
func TestDialHelper(t *testing.T) {
	socket := os.Getenv("DORRIT_DIAL")
	if socket == "" {
		t.Skip("run by asNobody")
	}
	nc, err := net.Dial("unix", socket)
	if err != nil {
		fmt.Println("dial:", err)
		return
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(nc, "GET / HTTP/1.1\r\nHost: x\r\n"+upgradeHeaders+"Sec-WebSocket-Version: 13\r\n\r\n")
	b, _ := io.ReadAll(io.LimitReader(nc, 4096))
	status, _, _ := bytes.Cut(b, []byte("\r\n"))
	fmt.Printf("%s\n", status)
}

// Rule 8 seen from outside: the socket's mode keeps out every process that
// is neither its owner nor in its group.
func TestOnlyTheSocketsGroupConnects(t *testing.T) {
	path := filepath.Join(worldDir(t), "s.sock")
	ln := serve(t, dorrit.Options{Path: path}, echo) // root:root, srwxrwx---
	if got := asNobody(t, path); !strings.Contains(got, "permission denied") {
		t.Fatalf("nobody dialing a root:root 0770 socket: %q, want permission denied", got)
	}
	roundTrip(t, dialRaw(t, ln), "root may")
}

// With PeerUsers set, only those accounts are upgraded, even through a
// socket everyone may open; the others get 403 and are counted.
func TestPeerAllowList(t *testing.T) {
	path := filepath.Join(worldDir(t), "s.sock")
	ln := serve(t, dorrit.Options{Path: path, SocketMode: 0o777, PeerUsers: []string{"root"}}, echo)
	if got := asNobody(t, path); got != "HTTP/1.1 403 Forbidden" {
		t.Fatalf("nobody through PeerUsers root: %q, want 403", got)
	}
	roundTrip(t, dialRaw(t, ln), "root may")
	if s := ln.Stats(); s.Refused.Peer != 1 || s.Accepted != 1 {
		t.Fatalf("Stats: %d refused as peers, %d accepted; want 1 and 1", s.Refused.Peer, s.Accepted)
	}
	if _, err := dorrit.Listen(dorrit.Options{Path: filepath.Join(t.TempDir(), "t.sock"), PeerGroups: []string{"no-such-group-dorrit"}}); err == nil || !strings.Contains(err.Error(), "PeerGroups") {
		t.Fatalf("unknown group in PeerGroups: %v", err)
	}
}
