package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Two pubsub servers share their topics through a real redis-server,
// behind one nginx: /a goes to one, /b to the other (the location
// `dorritctl config nginx` prints, copied for the second socket). A
// publisher on each server, subscribers on each: every subscriber gets
// every message of its topics once, in publish order per publisher, with
// consecutive offsets, and both subscribers see the same order of a topic
// both publishers write to.
func TestPubsubTwoServersThroughRedis(t *testing.T) {
	redis := startRedis(t)
	dir := sharedDir(t)
	socketA, socketB := filepath.Join(dir, "pubsub-a.socket"), filepath.Join(dir, "pubsub-b.socket")
	flags := []string{"-broker", "redis://" + redis, "-stats", "0"}
	startServer(t, "pubsub a", pubsubBin, socketA, flags)
	startServer(t, "pubsub b", pubsubBin, socketB, flags)

	site := "127.0.0.1:" + freePort(t)
	conf := generated(t, "nginx", "pubsub", "--socket", socketA, "--listen", site, "--location", "/a")
	conf = withLocation(t, conf, secondLocation(t, conf, "/a", "/b", socketA, socketB))
	front := startNginx(t, conf, site)

	subA, subB := dialPubsub(t, site, "/a"), dialPubsub(t, site, "/b")
	topics := []string{"alpha", "beta", "mixed"}
	subA.subscribe(t, topics...)
	subB.subscribe(t, topics...)

	const n = 200
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	published := make(chan error, 2)
	for _, p := range []struct{ path, own string }{{"/a", "alpha"}, {"/b", "beta"}} {
		pub := dialPubsub(t, site, p.path)
		go func() {
			for i := range n {
				for _, topic := range []string{p.own, "mixed"} {
					if err := pub.publish(ctx, topic, map[string]any{"from": p.path, "n": i}); err != nil {
						published <- fmt.Errorf("publish %d to %s on %s: %w", i, topic, p.path, err)
						return
					}
				}
			}
			published <- nil
		}()
	}

	type result struct {
		got map[string][]event
		err error
	}
	results := make(chan result, 2)
	for _, sub := range []*pubsubClient{subA, subB} {
		go func() {
			got := map[string][]event{}
			for len(got["alpha"]) < n || len(got["beta"]) < n || len(got["mixed"]) < 2*n {
				e, err := sub.next(ctx, "message")
				if err != nil {
					results <- result{got, err}
					return
				}
				got[e.Topic] = append(got[e.Topic], e)
			}
			results <- result{got, nil}
		}()
	}
	for range 2 {
		if err := <-published; err != nil {
			t.Fatal(err)
		}
	}
	var mixed [][]event
	for i := range 2 {
		r := <-results
		if r.err != nil {
			t.Fatalf("subscriber %d: after %d alpha, %d beta, %d mixed: %v", i, len(r.got["alpha"]), len(r.got["beta"]), len(r.got["mixed"]), r.err)
		}
		checkStream(t, r.got["alpha"], n, map[string]int{"/a": n})
		checkStream(t, r.got["beta"], n, map[string]int{"/b": n})
		checkStream(t, r.got["mixed"], 2*n, map[string]int{"/a": n, "/b": n})
		mixed = append(mixed, r.got["mixed"])
	}
	if !slices.EqualFunc(mixed[0], mixed[1], func(a, b event) bool {
		return a.Offset == b.Offset && a.Epoch == b.Epoch && string(a.Data) == string(b.Data)
	}) {
		t.Errorf("the two subscribers saw topic mixed in different orders")
	}

	// Each path reached its own server: nginx logs a WebSocket when it ends.
	subA.c.Close(websocket.StatusNormalClosure, "")
	subB.c.Close(websocket.StatusNormalClosure, "")
	front.waitLog(t, `"GET /a HTTP/1.1" 101`, "upstream=unix:"+socketA)
	front.waitLog(t, `"GET /b HTTP/1.1" 101`, "upstream=unix:"+socketB)
}

// checkStream checks one subscriber's messages of one topic: count of
// them, offsets 1, 2, 3… of one epoch, and each publisher's messages in
// the order it published (its n counting from 0 up to perPublisher).
func checkStream(t *testing.T, events []event, count int, perPublisher map[string]int) {
	t.Helper()
	if len(events) != count {
		t.Fatalf("%d messages, want %d", len(events), count)
	}
	next := map[string]int{}
	for i, e := range events {
		if e.Offset != int64(i+1) || e.Epoch != events[0].Epoch || e.Epoch == "" {
			t.Fatalf("%s: message %d has epoch %q offset %d, want epoch %q offset %d", e.Topic, i, e.Epoch, e.Offset, events[0].Epoch, i+1)
		}
		var d struct {
			From string `json:"from"`
			N    int    `json:"n"`
		}
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatalf("%s: message %d: %v: %s", e.Topic, i, err, e.Data)
		}
		if d.N != next[d.From] {
			t.Fatalf("%s: message %d is %s's %d, want its %d", e.Topic, i, d.From, d.N, next[d.From])
		}
		next[d.From]++
	}
	for from, want := range perPublisher {
		if next[from] != want {
			t.Fatalf("%s: %d messages from %s, want %d", events[0].Topic, next[from], from, want)
		}
	}
}

// secondLocation is the location block for from in a configuration
// dorritctl generated, for path to and socket instead.
func secondLocation(t *testing.T, conf, from, to, socket, instead string) string {
	t.Helper()
	start := strings.Index(conf, "    location "+from+" {")
	if start < 0 {
		t.Fatalf("no location %s in dorritctl's configuration:\n%s", from, conf)
	}
	end := strings.Index(conf[start:], "\n    }\n")
	if end < 0 {
		t.Fatalf("location %s does not end in dorritctl's configuration:\n%s", from, conf)
	}
	block := conf[start : start+end+len("\n    }")]
	block = strings.Replace(block, "location "+from+" {", "location "+to+" {", 1)
	return strings.ReplaceAll(block, "unix:"+socket+";", "unix:"+instead+";")
}
