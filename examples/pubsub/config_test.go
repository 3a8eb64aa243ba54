package main

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestSettings(t *testing.T) {
	parse := func(args ...string) (settings, error) {
		s := defaultSettings()
		fs := flag.NewFlagSet("pubsub", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		s.define(fs)
		return s, fs.Parse(args)
	}
	s, err := parse()
	if err != nil || s != (settings{history: 1000, topics: 10000, statsEvery: 10 * time.Second}) {
		t.Fatalf("defaults: got %+v, %v", s, err)
	}
	s, err = parse("-broker", "redis://r:6379/2", "-history", "50", "-topics", "20")
	if err != nil || s.broker != "redis://r:6379/2" || s.history != 50 || s.topics != 20 {
		t.Fatalf("both set: got %+v, %v", s, err)
	}
	for _, tc := range []struct{ flag, v, want string }{
		{"-broker", "localhost:6379", "want redis://host:port"},
		{"-broker", "redis://host:notaport", "want redis://host:port"},
		{"-history", "0", "1 to 1000000"},
		{"-history", "many", "1 to 1000000"},
		{"-topics", "0", "1 to 10000000"},
		{"-topics", "lots", "1 to 10000000"},
		{"-stats", "10", "want a duration such as 10s"},
		{"-stats", "1ns", "at least 10ms"},
		{"-stats", "-1s", "want a duration such as 10s"},
	} {
		if _, err := parse(tc.flag, tc.v); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s: got %v, want an error saying %q", tc.flag, tc.v, err, tc.want)
		}
	}

	for v, want := range map[string]time.Duration{"0": 0, "250ms": 250 * time.Millisecond, "1m": time.Minute} {
		if s, err := parse("-stats", v); err != nil || s.statsEvery != want {
			t.Errorf("-stats %s: got %v, %v, want %v", v, s.statsEvery, err, want)
		}
	}
}
