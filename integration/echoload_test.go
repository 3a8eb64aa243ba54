package integration

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// echoLoad is load on an echo server through a front server: clients that
// converse on one connection until the server lets them go (then they
// reconnect), and dialers that keep opening short conversations.
type echoLoad struct {
	url, origin string
	window      int
	stop        chan struct{}
	wg          sync.WaitGroup

	mu      sync.Mutex
	r       loadReport
	current []int // echoes each client got on its current connection
}

// loadReport is what the load saw.
type loadReport struct {
	dials       int // handshakes tried
	failedDials int // no HTTP answer: refused, reset, timed out
	refused     int // answered without 101 (503 from dorrit, 502 from nginx…)
	cut         int // conversations that ended otherwise than by their client's close or a 1001
	misordered  int // echoes out of order, or not what was sent
	goingAway   int // connections a server let go with 1001
	closeErrs   int // closes by a client that did not complete their handshake
	sent        uint64
	echoes      uint64
	inFlight    uint64 // messages sent but not echoed when a 1001 came
	maxInFlight int
	errs        []string // the first few failures
}

func (r loadReport) String() string {
	return fmt.Sprintf("%d dials: %d failed, %d refused; %d conversations cut, %d misordered; %d let go with 1001 (%d messages in flight then, at most %d on one connection); %d sent, %d echoed; %d close handshakes failed; first failures: %q",
		r.dials, r.failedDials, r.refused, r.cut, r.misordered, r.goingAway, r.inFlight, r.maxInFlight, r.sent, r.echoes, r.closeErrs, r.errs)
}

// startEchoLoad starts clients conversing clients, with up to window
// numbered messages in flight each, and dialers dialing ones.
func startEchoLoad(t *testing.T, url, origin string, clients, dialers, window int) *echoLoad {
	l := &echoLoad{url: url, origin: origin, window: window, stop: make(chan struct{}), current: make([]int, clients)}
	for i := range clients {
		l.wg.Go(func() {
			for !l.stopped() {
				if c := l.dial(); c != nil {
					l.converse(i, c)
				}
			}
		})
	}
	for range dialers {
		l.wg.Go(func() {
			for !l.stopped() {
				if c := l.dial(); c != nil {
					l.once(c)
				}
			}
		})
	}
	t.Cleanup(func() {
		select {
		case <-l.stop:
		default:
			close(l.stop)
			l.wg.Wait()
		}
	})
	return l
}

func (l *echoLoad) stopped() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

func (l *echoLoad) failed(count *int, format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	*count++
	if len(l.r.errs) < 5 {
		l.r.errs = append(l.r.errs, fmt.Sprintf(format, args...))
	}
}

// dial opens a connection, or counts why not and returns nil.
func (l *echoLoad) dial() *websocket.Conn {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, l.url, &websocket.DialOptions{
		HTTPHeader: http.Header{"Origin": {l.origin}},
	})
	l.mu.Lock()
	l.r.dials++
	l.mu.Unlock()
	switch {
	case err == nil:
		return c
	case resp != nil && resp.StatusCode != http.StatusSwitchingProtocols:
		l.failed(&l.r.refused, "dial: %d: %v", resp.StatusCode, err)
	default:
		l.failed(&l.r.failedDials, "dial: %v", err)
	}
	time.Sleep(10 * time.Millisecond) // no busy loop against a front that refuses
	return nil
}

// once is a short conversation: one message, its echo, close.
func (l *echoLoad) once(c *websocket.Conn) {
	defer c.CloseNow()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte("once")); err != nil {
		l.failed(&l.r.cut, "short conversation: write: %v", err)
		return
	}
	l.mu.Lock()
	l.r.sent++
	l.mu.Unlock()
	_, msg, err := c.Read(ctx)
	switch {
	case err != nil:
		l.failed(&l.r.cut, "short conversation: read: %v", err)
		return
	case string(msg) != "once":
		l.failed(&l.r.misordered, "short conversation: echo %q, want %q", msg, "once")
		return
	}
	l.mu.Lock()
	l.r.echoes++
	l.mu.Unlock()
	l.closeGracefully(c)
}

func (l *echoLoad) closeGracefully(c *websocket.Conn) {
	if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
		l.mu.Lock()
		l.r.closeErrs++
		l.mu.Unlock()
	}
}

// converse sends numbered messages on c, window in flight, and checks
// each echo, until the load stops (then it waits for every echo and
// closes) or the server lets it go with 1001.
func (l *echoLoad) converse(client int, c *websocket.Conn) {
	defer c.CloseNow()
	l.mu.Lock()
	l.current[client] = 0
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	type read struct {
		msg []byte
		err error
	}
	reads := make(chan read)
	done := make(chan struct{}) // the conversation is over
	defer close(done)
	go func() {
		for {
			_, msg, err := c.Read(ctx)
			select {
			case reads <- read{msg, err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()

	type wrote struct {
		n       int // messages written
		stopped bool
	}
	tokens := make(chan struct{}, l.window)
	readerGone := make(chan struct{})
	writer := make(chan wrote, 1)
	go func() {
		n := 0
		for {
			select {
			case tokens <- struct{}{}:
			case <-l.stop:
				writer <- wrote{n, true}
				return
			case <-readerGone:
				writer <- wrote{n, false}
				return
			}
			if err := c.Write(ctx, websocket.MessageText, []byte(strconv.Itoa(n))); err != nil {
				writer <- wrote{n, false}
				return
			}
			n++
			l.mu.Lock()
			l.r.sent++
			l.mu.Unlock()
		}
	}()
	wroteN := -1 // messages written, once the writer ended
	written := func() int {
		close(readerGone)
		if wroteN < 0 {
			wroteN = (<-writer).n
		}
		return wroteN
	}

	echoed, final := 0, -1
	for {
		if final >= 0 && echoed == final {
			l.closeGracefully(c)
			return
		}
		var r read
		select {
		case w := <-writer:
			wroteN = w.n
			if w.stopped { // the load ends: the echoes of everything sent, then close
				final = w.n
			}
			continue
		case r = <-reads:
		}
		var ce websocket.CloseError
		switch {
		case errors.As(r.err, &ce) && ce.Code == websocket.StatusGoingAway:
			n := written()
			l.mu.Lock()
			l.r.goingAway++
			l.r.inFlight += uint64(n - echoed)
			l.r.maxInFlight = max(l.r.maxInFlight, n-echoed)
			l.mu.Unlock()
			if n-echoed > l.window {
				l.failed(&l.r.misordered, "1001 after %d echoes of %d messages sent, more than %d in flight", echoed, n, l.window)
			}
			return
		case r.err != nil:
			written()
			l.failed(&l.r.cut, "conversation cut after %d echoes: %v", echoed, r.err)
			return
		case string(r.msg) != strconv.Itoa(echoed):
			written()
			l.failed(&l.r.misordered, "echo %d is %q: a gap or a reorder", echoed, r.msg)
			return
		}
		echoed++
		<-tokens
		l.mu.Lock()
		l.r.echoes++
		l.current[client]++
		l.mu.Unlock()
	}
}

// waitConversing waits until at least goingAway connections were let go
// with 1001 and every client has had 3 echoes on its current connection:
// all of them converse, on connections opened after those 1001s.
func (l *echoLoad) waitConversing(t *testing.T, clients, goingAway int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		l.mu.Lock()
		ok := l.r.goingAway >= goingAway
		for _, n := range l.current {
			ok = ok && n >= 3
		}
		r := l.r
		l.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not all %d clients conversing after %d let go with 1001, within 30 s: %s", clients, goingAway, r)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// finish stops the load: each client waits for the echoes of what it sent
// and closes.
func (l *echoLoad) finish(t *testing.T) loadReport {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r
}
