package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/dorritgo/dorrit"
)

// testLogger shows the servers' logs with go test -v only.
func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// server is a pubsub server in this process: a hub on a dorrit listener.
type server struct {
	h  *hub
	ln *dorrit.Listener
}

// startServer runs a hub on a socket in a temporary directory, with the
// broker that broker makes for it, until the test ends. tune, if any,
// changes the hub before it serves.
func startServer(t *testing.T, broker func(h *hub) Broker, tune ...func(*hub)) *server {
	t.Helper()
	ln, err := dorrit.Listen(dorrit.Options{Path: filepath.Join(t.TempDir(), "pubsub.socket")})
	if err != nil {
		t.Fatal(err)
	}
	h := newHub(testLogger(), ln.Options().BufferSize)
	h.broker = broker(h)
	for _, f := range tune {
		f(h)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		h.serve(ctx, ln)
		close(served)
	}()
	t.Cleanup(func() {
		sctx, stop := context.WithTimeout(context.Background(), 5*time.Second)
		defer stop()
		ln.Shutdown(sctx)
		cancel()
		<-served
		h.broker.Close()
	})
	return &server{h, ln}
}

func memoryServer(t *testing.T, history int, tune ...func(*hub)) *server {
	return startServer(t, func(h *hub) Broker { return newMemoryBroker(history, h) }, tune...)
}

// event is any message the server sends, all fields in one.
type event struct {
	Type        string          `json:"type"`
	ID          json.RawMessage `json:"id"`
	Topic       string          `json:"topic"`
	Epoch       string          `json:"epoch"`
	Offset      uint64          `json:"offset"`
	Data        json.RawMessage `json:"data"`
	Reason      string          `json:"reason"`
	Error       string          `json:"error"`
	Messages    []historyEntry  `json:"messages"`
	Subscribers map[string]int  `json:"subscribers"`
}

func (e event) String() string {
	b, _ := json.Marshal(e)
	return string(b)
}

// wsClient is a real WebSocket client (github.com/coder/websocket) on the
// server's unix socket.
type wsClient struct {
	t *testing.T
	c *websocket.Conn
}

func dial(t *testing.T, s *server) *wsClient {
	t.Helper()
	return dialPath(t, s.ln.Addr().String())
}

func dialPath(t *testing.T, path string) *wsClient {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://localhost/", &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(-1)
	t.Cleanup(func() { c.CloseNow() })
	return &wsClient{t, c}
}

// send writes one request, given as JSON text.
func (w *wsClient) send(format string, args ...any) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.c.Write(ctx, websocket.MessageText, fmt.Appendf(nil, format, args...)); err != nil {
		w.t.Fatal(err)
	}
}

// next reads the next event, failing the test after 10 s.
func (w *wsClient) next() event {
	w.t.Helper()
	e, err := w.read(10 * time.Second)
	if err != nil {
		w.t.Fatal(err)
	}
	return e
}

func (w *wsClient) read(d time.Duration) (event, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	typ, b, err := w.c.Read(ctx)
	if err != nil {
		return event{}, err
	}
	var e event
	if typ != websocket.MessageText {
		return e, fmt.Errorf("got a binary message")
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return e, fmt.Errorf("not JSON: %q: %v", b, err)
	}
	return e, nil
}

// expect reads the next event and checks its type.
func (w *wsClient) expect(typ string) event {
	w.t.Helper()
	e := w.next()
	if e.Type != typ {
		w.t.Fatalf("got %v, want a %s", e, typ)
	}
	return e
}

// publish publishes data to topic and returns the ack.
func (w *wsClient) publish(topic, data string) event {
	w.t.Helper()
	w.send(`{"type":"publish","topic":%q,"data":%s}`, topic, data)
	return w.expect("ack")
}

// ackAndMessage reads the ack and the message of a publish to a topic the
// client subscribes to itself, which may come in either order.
func (w *wsClient) ackAndMessage() (ack, msg event) {
	w.t.Helper()
	for range 2 {
		switch e := w.next(); e.Type {
		case "ack":
			ack = e
		case "message":
			msg = e
		default:
			w.t.Fatalf("got %v, want the ack and the message", e)
		}
	}
	if ack.Type == "" || msg.Type == "" || ack.Offset != msg.Offset {
		w.t.Fatalf("got %v and %v, want the ack and the message of one offset", ack, msg)
	}
	return ack, msg
}

// messages reads events until it has n messages (history events count
// for theirs), and checks that their offsets follow from after+1 on in
// epoch. It returns their data.
func (w *wsClient) messages(topic, epoch string, after uint64, n int) []string {
	w.t.Helper()
	var got []string
	want := after + 1
	take := func(off uint64, ep string, data json.RawMessage) {
		w.t.Helper()
		if off != want || ep != epoch {
			w.t.Fatalf("got offset %d of epoch %s, want %d of %s (data so far %v)", off, ep, want, epoch, got)
		}
		want++
		got = append(got, string(data))
	}
	for len(got) < n {
		e := w.next()
		switch {
		case e.Topic != topic:
			w.t.Fatalf("got %v, want messages of %s", e, topic)
		case e.Type == "message":
			take(e.Offset, e.Epoch, e.Data)
		case e.Type == "history":
			for _, m := range e.Messages {
				take(m.Offset, e.Epoch, m.Data)
			}
		default:
			w.t.Fatalf("got %v, want messages", e)
		}
	}
	if len(got) != n {
		w.t.Fatalf("got %d messages, want %d", len(got), n)
	}
	return got
}

// waitFor polls cond until it holds, failing the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func joined(s []string) string { return strings.Join(s, " ") }
