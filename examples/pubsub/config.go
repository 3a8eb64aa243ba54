package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// settings are the pubsub server's own settings, beyond lifecycle's flags.
//
// TODO(lifecycle): make these flags (-broker, -history, -stats) once
// lifecycle.Server lets an application add its own; until then they come
// from the environment, which the server process inherits from the
// command that starts it.
type settings struct {
	broker     string        // PUBSUB_BROKER: "" for the in-process broker, or redis://host:port[/db]
	history    int           // PUBSUB_HISTORY: messages kept per topic for resuming clients
	statsEvery time.Duration // PUBSUB_STATS_EVERY: how often clients get subscriber counts; 0: never
}

const (
	defaultHistory    = 1000
	maxHistory        = 1_000_000
	defaultStatsEvery = 10 * time.Second
)

// settingsFrom reads the settings with getenv (os.Getenv, or a test's).
func settingsFrom(getenv func(string) string) (settings, error) {
	s := settings{history: defaultHistory, statsEvery: defaultStatsEvery}
	s.broker = strings.TrimSpace(getenv("PUBSUB_BROKER"))
	if s.broker != "" {
		if _, err := redis.ParseURL(s.broker); err != nil {
			return s, fmt.Errorf("PUBSUB_BROKER=%q: %v: want redis://host:port[/db] (or rediss:// for TLS), or leave it unset for the in-process broker", s.broker, err)
		}
	}
	if v := getenv("PUBSUB_HISTORY"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxHistory {
			return s, fmt.Errorf("PUBSUB_HISTORY=%q: want a number of messages kept per topic, 1 to %d (default %d)", v, maxHistory, defaultHistory)
		}
		s.history = n
	}
	if v := getenv("PUBSUB_STATS_EVERY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > 0 && d < 10*time.Millisecond {
			return s, fmt.Errorf("PUBSUB_STATS_EVERY=%q: want a duration such as 10s or 500ms (at least 10ms), or 0 for no stats messages", v)
		}
		s.statsEvery = d
	}
	return s, nil
}
