//go:build linux

package lifecycle_test

import (
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/internal/procmem"
	"golang.org/x/sys/unix"
)

// The server process runs lifecycle's memory policy on its own: its queue
// budget is at most a quarter of the machine's memory, and the garbage of
// a burst of handshakes is collected once the burst ends (ReleaseMemory),
// with nothing in Serve asking for it.
func TestServerProcessReleasesMemory(t *testing.T) {
	procmem.RaiseFileLimit() // the server process inherits the limit
	const n = 1500
	dir := sharedDir(t)
	sock := filepath.Join(dir, "s.sock")
	p, _ := startForeground(t, []string{"TESTSERVER_NAME=ltest-memory"}, "-l", sock, "-m", fmt.Sprint(2*n))
	defer p.stop(t)

	// One connection asks throughout: a new one per question would be a
	// handshake, and the burst would never end.
	asker, _, err := dialRaw(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer asker.Close()
	memory := func() (budget int64, forced uint64) {
		t.Helper()
		asker.SetDeadline(time.Now().Add(10 * time.Second))
		if err := asker.WriteText([]byte("memory")); err != nil {
			t.Fatal(err)
		}
		_, answer, err := asker.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fmt.Sscanf(string(answer), "MaxQueueBytes=%d forced=%d", &budget, &forced); err != nil {
			t.Fatalf("answer %q: %v", answer, err)
		}
		return budget, forced
	}

	budget, before := memory()
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		t.Fatal(err)
	}
	if want := min(dorrit.DefaultMaxQueueBytes, int64(si.Totalram)*int64(si.Unit)/4); budget != want {
		t.Errorf("MaxQueueBytes %d in the server process, want min(256 MiB, a quarter of the memory) = %d", budget, want)
	}

	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := procmem.Dial(sock, "")
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	// ReleaseMemory looks every 2 s: collected within two looks of the
	// burst's end, 10 s is ample.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, forced := memory()
		if forced > before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no collection in the server process within 10 s of a burst of %d handshakes", n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
