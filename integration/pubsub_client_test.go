package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// event is one message from the pubsub server (examples/pubsub/README.md).
type event struct {
	Type   string          `json:"type"`
	Topic  string          `json:"topic"`
	Epoch  string          `json:"epoch"`
	Offset int64           `json:"offset"`
	Data   json.RawMessage `json:"data"`
	Error  string          `json:"error"`
	Reason string          `json:"reason"`
}

// pubsubClient is a WebSocket to a pubsub server through nginx, with a
// browser's Origin.
type pubsubClient struct {
	c *websocket.Conn
}

func dialPubsub(t *testing.T, site, path string) *pubsubClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+site+path, &websocket.DialOptions{
		HTTPHeader: http.Header{"Origin": {"http://" + site}},
	})
	if err != nil {
		t.Fatalf("ws://%s%s: %v", site, path, err)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return &pubsubClient{c: c}
}

func (p *pubsubClient) send(ctx context.Context, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return p.c.Write(ctx, websocket.MessageText, b)
}

// next reads the next event of one of types, skipping stats.
func (p *pubsubClient) next(ctx context.Context, types ...string) (event, error) {
	for {
		_, b, err := p.c.Read(ctx)
		if err != nil {
			return event{}, err
		}
		var e event
		if err := json.Unmarshal(b, &e); err != nil {
			return event{}, err
		}
		if e.Type == "stats" {
			continue
		}
		if !slices.Contains(types, e.Type) {
			return e, fmt.Errorf("got %s, want one of %q", b, types)
		}
		return e, nil
	}
}

// subscribe subscribes to topics and waits for each subscribed reply.
func (p *pubsubClient) subscribe(t *testing.T, topics ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, topic := range topics {
		if err := p.send(ctx, map[string]any{"type": "subscribe", "topic": topic}); err != nil {
			t.Fatal(err)
		}
		e, err := p.next(ctx, "subscribed")
		if err != nil {
			t.Fatalf("subscribe %s: %v", topic, err)
		}
		if e.Topic != topic {
			t.Fatalf("subscribe %s: subscribed to %q", topic, e.Topic)
		}
	}
}

// publish publishes data to topic and waits for the ack.
func (p *pubsubClient) publish(ctx context.Context, topic string, data any) error {
	if err := p.send(ctx, map[string]any{"type": "publish", "topic": topic, "data": data}); err != nil {
		return err
	}
	_, err := p.next(ctx, "ack")
	return err
}
