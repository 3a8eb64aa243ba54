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

// SIGHUP twice under the load of 200 clients that converse, 8 numbered
// messages in flight each, and reconnect when let go, while 4 more
// converse in a loop (dial, one message, its answer): no connect refused,
// no handshake failed, no conversation cut. Each of the 200 is let go by
// the replaced server with 1001 after its grace, having read its echoes
// in order without a gap up to then; so are they all by the SIGTERM that
// ends the test. (integration/ does the same through nginx, with dorritctl
// reload, and counts what the servers read against what they echoed.)
func TestUpgradeUnderLoadLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("200 clients")
	}
	sock := filepath.Join(sharedDir(t), "s.sock")
	p, pid := startForeground(t, []string{"TESTSERVER_NAME=ltest-hupload"}, "-l", sock)
	const clients, window = 200, 8
	var (
		mu        sync.Mutex
		goingAway int
		echoes    int
		failures  []error
		current   = make([]int, clients) // echoes on each client's current connection
	)
	stop := make(chan struct{})
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			for !stopped() {
				mu.Lock()
				current[i] = 0
				mu.Unlock()
				err := numberedConversation(sock, window, func() {
					mu.Lock()
					echoes++
					current[i]++
					mu.Unlock()
				})
				mu.Lock()
				if err == nil {
					goingAway++
				} else if !stopped() || current[i] > 0 {
					failures = append(failures, err)
				}
				mu.Unlock()
			}
		})
	}
	conversing := func(lettingGo int) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			if len(failures) > 0 {
				t.Fatalf("%d conversations failed, the first: %v", len(failures), failures[0])
			}
			for _, n := range current {
				if n < 3 {
					return false
				}
			}
			return goingAway >= lettingGo
		}
	}
	l := startLoad(sock, 4)
	waitFor(t, "200 clients conversing", conversing(0))
	served := map[int]bool{pid: true}
	for i := range 2 {
		p.cmd.Process.Signal(syscall.SIGHUP)
		waitFor(t, "answers from the new server", func() bool {
			return l.servedBy(func(p int) bool { return !served[p] })
		})
		l.servedBy(func(p int) bool { served[p] = true; return false })
		waitFor(t, "every client let go by the old server and conversing again", conversing((i+1)*clients))
	}
	if refused, cut, _ := l.finish(); refused+cut != 0 {
		t.Fatalf("upgrades: %s", l.report())
	}
	t.Logf("upgrades: %s", l.report())
	close(stop)
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit status %d", code)
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d conversations failed, the first: %v", len(failures), failures[0])
	}
	t.Logf("2 upgrades and a stop: %d connections let go with 1001, each after its echoes in order; %d echoes", goingAway, echoes)
}

// numberedConversation sends "0", "1", "2"… with up to window of them
// unanswered, checks each echo, and returns nil when the server lets the
// connection go with 1001 after an unbroken run of echoes; echoed is
// called for each echo.
func numberedConversation(sock string, window int, echoed func()) error {
	c, _, err := dialRaw(sock)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	tokens := make(chan struct{}, window)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for i := 0; ; i++ {
			select {
			case tokens <- struct{}{}:
			case <-done:
				return
			}
			if c.WriteText([]byte(strconv.Itoa(i))) != nil {
				return
			}
		}
	}()
	for n := 0; ; n++ {
		_, msg, err := c.ReadMessage()
		var ce *wstest.CloseFrameError
		switch {
		case errors.As(err, &ce) && ce.Code == 1001:
			return nil
		case err != nil:
			return fmt.Errorf("after %d echoes: %v, want close 1001", n, err)
		case string(msg) != strconv.Itoa(n):
			return fmt.Errorf("echo %d is %q: a gap or a reorder", n, msg)
		}
		<-tokens
		echoed()
	}
}
