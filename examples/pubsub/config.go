package main

import (
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// settings are the pubsub server's own settings, beyond lifecycle's flags.
type settings struct {
	broker  string // -broker: "" for the in-process broker, or redis://host:port[/db]
	history int    // -history: messages kept per topic for resuming clients
	topics  int    // -topics: topics the in-process broker holds at most

	// -stats: how often clients get subscriber counts; 0: never. The
	// lifecycle.Server.Configure reads it once the flags are parsed.
	statsEvery time.Duration
}

const (
	defaultHistory    = 1000
	maxHistory        = 1_000_000
	maxMaxTopics      = 10_000_000
	defaultStatsEvery = 10 * time.Second
	minStatsEvery     = 10 * time.Millisecond
)

func defaultSettings() settings {
	return settings{history: defaultHistory, topics: defaultMaxTopics, statsEvery: defaultStatsEvery}
}

// define defines -broker, -history and -stats on fs
// (lifecycle.Server.Flags). A value the server cannot run with is a usage
// error at once.
func (s *settings) define(fs *flag.FlagSet) {
	fs.Func("broker", "`url` of the Redis that servers sharing topics use: redis://host:port[/db] (rediss:// for TLS); default: the in-process broker, one server alone",
		func(v string) error {
			if _, err := redis.ParseURL(v); err != nil {
				return fmt.Errorf("%v: want redis://host:port[/db] (or rediss:// for TLS), or no -broker for the in-process broker", err)
			}
			s.broker = v
			return nil
		})
	fs.Func("history", fmt.Sprintf("`n` messages kept per topic for clients that resume, 1..%d (default %d); give every server the same", maxHistory, defaultHistory),
		func(v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxHistory {
				return fmt.Errorf("want a number of messages kept per topic, 1 to %d (default %d)", maxHistory, defaultHistory)
			}
			s.history = n
			return nil
		})
	fs.Func("topics", fmt.Sprintf("`n` topics the in-process broker holds at most, 1..%d (default %d); a publish that would start one more is refused", maxMaxTopics, defaultMaxTopics),
		func(v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxMaxTopics {
				return fmt.Errorf("want a number of topics, 1 to %d (default %d)", maxMaxTopics, defaultMaxTopics)
			}
			s.topics = n
			return nil
		})
	fs.Func("stats", fmt.Sprintf("`interval` of the stats message with each topic's subscriber count: a duration such as 10s or 500ms, at least %v; 0: never (default %v)", minStatsEvery, defaultStatsEvery),
		func(v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 || d > 0 && d < minStatsEvery {
				return fmt.Errorf("want a duration such as 10s or 500ms (at least %v), or 0 for no stats messages", minStatsEvery)
			}
			s.statsEvery = d
			return nil
		})
}
