package dorrit_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/internal/procmem"
)

// A connection's goroutine starts with Go's smallest stack, 2 KiB, and
// keeps it only if no call dorrit makes on it goes deeper; once grown to
// 4 KiB it never shrinks back (the runtime shrinks a stack only when less
// than a quarter of it, plus 800 bytes of reserve, is in use). A 1 KiB
// array of iovecs in the write path made every connection that had
// answered once cost 6.2 KiB idle instead of 4.2 (idlemem -talk).
//
// Measured in a child process of its own, where no earlier test's stacks
// come and go; without the race detector, whose instrumentation makes
// every frame larger (make test runs it so).
func TestConnectionsThatTalkedKeepTheSmallestStack(t *testing.T) {
	if size := os.Getenv("DORRIT_STACK_CHILD"); size != "" {
		n, _ := strconv.Atoi(size)
		fmt.Printf("stack per connection: %.0f\n", stackPerTalkingConn(t, n))
		return
	}
	if raceEnabled {
		t.Skip("the race detector makes every frame larger; make test runs this test without -race")
	}
	for name, size := range map[string]int{"queued": 13, "written directly": 4000} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestConnectionsThatTalkedKeepTheSmallestStack$", "-test.v")
			cmd.Env = append(os.Environ(), "DORRIT_STACK_CHILD="+strconv.Itoa(size))
			out, err := cmd.CombinedOutput()
			_, figure, found := strings.Cut(string(out), "stack per connection: ")
			per, _ := strconv.Atoi(strings.Fields(figure + " ")[0])
			if err != nil || !found {
				t.Fatalf("child: %v\n%s", err, out)
			}
			// 2.2 KiB (written directly) and 2.7 KiB (queued) measured;
			// 4.1 KiB with the 1 KiB iovec array.
			if per > 3584 {
				t.Fatalf("%d bytes of stack per connection after one %d-byte echo, want about 2 KiB", per, size)
			}
			t.Logf("%d bytes of stack per connection after one %d-byte echo", per, size)
		})
	}
}

// stackPerTalkingConn opens 2000 connections that each have one message of
// size bytes echoed, and returns the growth of the stacks per connection.
func stackPerTalkingConn(t *testing.T, size int) float64 {
	const n = 2000
	ln := serve(t, dorrit.Options{MaxConns: n}, echo)
	before := stackInuse()
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	msg := []byte(strings.Repeat("a", size))
	for range n {
		c, err := procmem.Dial(sockPath(ln), "")
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if err := procmem.Converse(c, msg); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond) // the last handler parks in Read
	return (float64(stackInuse()) - float64(before)) / n
}

func stackInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.StackInuse
}
