// Command pubsub is a topic publish/subscribe server: clients subscribe to
// topics, publish to them, and get every message of their topics in order,
// with an offset to resume from after a reconnect. The protocol (JSON text
// messages) is in README.md.
//
//	go run ./examples/pubsub -x -l /tmp/pubsub.socket
//
// runs it alone with the in-process broker. Several servers, say one per
// machine behind the same front server, share topics through Redis:
//
//	go run ./examples/pubsub -x -l /tmp/pubsub.socket -broker redis://127.0.0.1:6379
//
// -history n (default 1000) is how many messages per topic are kept for
// resuming clients; -topics n (default 10000) how many topics the
// in-process broker holds at most; -stats interval (default 10s, 0 for
// never) how often clients are sent their topics' subscriber counts.
// It takes the manual's flags too (package lifecycle): -l socket, -b
// buffer size, -m maximum connections, -u/-g account, -x foreground, -f
// file.
package main

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/lifecycle"
)

func main() {
	set := defaultSettings()
	// The hub lives in the server process, which lifecycle starts after
	// main has built the Server: Periodic finds it here.
	var running atomic.Pointer[hub]
	srv := lifecycle.Server{
		Name:  "pubsub",
		Flags: set.define, // parsed in every process, the server's too, before Serve
		Serve: func(ctx context.Context, ln *dorrit.Listener, cfg *lifecycle.Config) error {
			return run(ctx, ln, set, cfg.Logger, &running)
		},
		// -stats is known once the flags are parsed: Configure runs then,
		// in every process.
		Configure: func(cfg *lifecycle.Config) error {
			if set.statsEvery == 0 {
				return nil // -stats 0: no stats messages
			}
			cfg.Periodic = append(cfg.Periodic, lifecycle.Periodic{
				Every: set.statsEvery,
				Func: func(context.Context) {
					if h := running.Load(); h != nil {
						h.sendStats()
					}
				},
			})
			return nil
		},
	}
	lifecycle.Main(srv)
}

// run serves ln until it is shut down and every connection's handler has
// returned. The broker is closed last: a handler may still be publishing
// while lifecycle drains the connections, and a publish on a closed broker
// would be refused although its client is still there to hear of it.
func run(ctx context.Context, ln *dorrit.Listener, set settings, log *slog.Logger, running *atomic.Pointer[hub]) error {
	h, err := startHub(set, ln.Options().BufferSize, log)
	if err != nil {
		return err
	}
	defer h.broker.Close()
	running.Store(h)
	h.serve(ctx, ln)
	return nil
}

// startHub makes the hub and its broker.
func startHub(set settings, bufferSize int, log *slog.Logger) (*hub, error) {
	h := newHub(log, bufferSize)
	if set.broker == "" {
		b := newMemoryBroker(set.history, h)
		b.maxTopics = set.topics
		h.broker = b
		log.Info("broker: in-process (one server; -broker redis://host:port shares topics between servers)", "history", set.history, "topics", set.topics)
		return h, nil
	}
	b, err := newRedisBroker(set.broker, set.history, h, log)
	if err != nil {
		return nil, err
	}
	h.broker = b
	log.Info("broker: Redis", "addr", b.addr, "history", set.history)
	return h, nil
}
