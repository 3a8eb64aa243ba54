package lifecycle

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// While syslog is down, lines are held (the latest heldMax) without
// waiting; once it answers they arrive in order, after a word about the
// lines that did not fit.
func TestSyslogHoldsWhileDown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	log := syslogLogger(&Server{Name: "held", SyslogNetwork: "unixgram", SyslogAddr: path})
	start := time.Now()
	const n = heldMax + 44
	for i := range n {
		log.Info(fmt.Sprintf("line %d", i))
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("%d lines with syslog down took %v", n, d)
	}
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 4096)
	read := func() string {
		t.Helper()
		k, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		return string(buf[:k])
	}
	if got := read(); !strings.HasPrefix(got, "<28>") || !strings.Contains(got, "44 earlier lines lost") {
		t.Fatalf("first line after syslog came back: %q", got)
	}
	for i := n - heldMax; i < n; i++ {
		if got := read(); !strings.Contains(got, fmt.Sprintf("msg=\"line %d\"\n", i)) {
			t.Fatalf("want line %d, got %q", i, got)
		}
	}
	log.Warn("now")
	if got := read(); !strings.HasPrefix(got, "<28>") || !strings.Contains(got, "held[") || !strings.Contains(got, "msg=now") {
		t.Fatalf("a line once syslog is there: %q", got)
	}

	// syslog restarts: the connected socket fails, the line is held and
	// sent on the new one.
	c.Close()
	os.Remove(path)
	log.Error("while syslog restarts")
	c2, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c = c2
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if got := read(); !strings.HasPrefix(got, "<27>") || !strings.Contains(got, "while syslog restarts") {
		t.Fatalf("after a syslog restart: %q", got)
	}
}

// A line too long for a datagram is cut, not retried forever in front of
// every later line.
func TestSyslogLongLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	log := syslogLogger(&Server{Name: "long", SyslogNetwork: "unixgram", SyslogAddr: path})
	log.Info(strings.Repeat("z", 1<<20))
	log.Info("after")
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 2<<20)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(buf[:n]); !strings.Contains(got, "zzzz") || len(got) > syslogMaxLine+100 || !strings.Contains(got, "bytes cut") {
		t.Fatalf("the long line arrived as %d bytes: %.100q…", n, got)
	}
	if n, err = c.Read(buf); err != nil || !strings.Contains(string(buf[:n]), "msg=after") {
		t.Fatalf("the next line: %q %v", buf[:n], err)
	}
}
