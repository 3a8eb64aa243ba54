package lifecycle_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dorritgo/dorrit/internal/wstest"
)

// SIGTERM under load: 200 clients each send numbered messages, 32 in
// flight (a client that sends faster than it reads is let go when its
// queue is full, by design), and read the echoes. Every client gets a run
// of echoes without a gap, in order, and then the 1001 close frame:
// whatever the server had queued reached its client before the drain's
// close.
func TestStopUnderLoadDeliversWhatWasQueued(t *testing.T) {
	if testing.Short() {
		t.Skip("200 clients")
	}
	sock := filepath.Join(sharedDir(t), "s.sock")
	p, _ := startForeground(t, []string{"TESTSERVER_NAME=ltest-termload"}, "-l", sock)
	const clients = 200
	type result struct {
		echoes int
		err    error
	}
	results := make(chan result, clients)
	var started sync.WaitGroup
	for range clients {
		started.Add(1)
		go func() {
			flowing := sync.OnceFunc(started.Done) // echoes flow, or this client is done
			defer flowing()
			c, _, err := dialRaw(sock)
			if err != nil {
				results <- result{err: err}
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			window := make(chan struct{}, 32)
			go func() {
				for i := 0; ; i++ {
					window <- struct{}{}
					if c.WriteText([]byte(strconv.Itoa(i))) != nil {
						return
					}
				}
			}()
			for n := 0; ; n++ {
				_, msg, err := c.ReadMessage()
				select {
				case <-window:
				default:
				}
				if n == 10 {
					flowing() // the signal may come
				}
				var ce *wstest.CloseFrameError
				switch {
				case errors.As(err, &ce) && ce.Code == 1001:
					results <- result{echoes: n}
					return
				case err != nil:
					results <- result{echoes: n, err: fmt.Errorf("after %d echoes: %v, want close 1001", n, err)}
					return
				case string(msg) != strconv.Itoa(n):
					results <- result{echoes: n, err: fmt.Errorf("echo %d is %q: a gap or a reorder", n, msg)}
					return
				}
			}
		}()
	}
	started.Wait()
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit status %d", code)
	}
	total := 0
	for range clients {
		r := <-results
		if r.err != nil {
			t.Fatal(r.err)
		}
		total += r.echoes
	}
	t.Logf("%d clients: %d echoes delivered in order, then 1001 to every one", clients, total)
}

// kill -SEGV and kill -BUS of the server process under the load of 200
// conversing clients: it is restarted on the same socket and no connection
// attempt is refused meanwhile (conversations the crash cut in flight are
// lost, as a crash loses them).
func TestCrashUnderLoadRefusesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("200 clients")
	}
	for _, sig := range []syscall.Signal{syscall.SIGSEGV, syscall.SIGBUS} {
		t.Run(sig.String(), func(t *testing.T) {
			sock := filepath.Join(sharedDir(t), "s.sock")
			p, pid := startForeground(t, []string{"TESTSERVER_NAME=ltest-crashload"}, "-l", sock)
			l := startLoad(sock, 200)
			waitFor(t, "answers from the first server", func() bool { return l.servedBy(func(p int) bool { return p == pid }) })
			syscall.Kill(pid, sig)
			waitFor(t, "answers from the restarted server", func() bool { return l.servedBy(func(p int) bool { return p != pid }) })
			refused, _, _ := l.finish()
			if refused != 0 {
				t.Fatalf("%v: %s", sig, l.report())
			}
			t.Logf("%v: %s", sig, l.report())
			p.waitLine(t, regexp.MustCompile(`crash`))
			if code := p.stop(t); code != 0 {
				t.Fatalf("exit status %d", code)
			}
		})
	}
}
