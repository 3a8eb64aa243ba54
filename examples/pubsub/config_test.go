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
	if err != nil || s != (settings{history: 1000, statsEvery: 10 * time.Second}) {
		t.Fatalf("defaults: got %+v, %v", s, err)
	}
	s, err = parse("-broker", "redis://r:6379/2", "-history", "50")
	if err != nil || s.broker != "redis://r:6379/2" || s.history != 50 {
		t.Fatalf("both set: got %+v, %v", s, err)
	}
	for _, tc := range []struct{ flag, v, want string }{
		{"-broker", "localhost:6379", "want redis://host:port"},
		{"-broker", "redis://host:notaport", "want redis://host:port"},
		{"-history", "0", "1 to 1000000"},
		{"-history", "many", "1 to 1000000"},
	} {
		if _, err := parse(tc.flag, tc.v); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s: got %v, want an error saying %q", tc.flag, tc.v, err, tc.want)
		}
	}

	env := func(v string) func(string) string { return func(string) string { return v } }
	for v, want := range map[string]time.Duration{"": 10 * time.Second, "0": 0, "250ms": 250 * time.Millisecond} {
		if d, err := statsEveryFrom(env(v)); err != nil || d != want {
			t.Errorf("PUBSUB_STATS_EVERY=%q: got %v, %v, want %v", v, d, err, want)
		}
	}
	for _, v := range []string{"10", "1ns", "-1s"} {
		if _, err := statsEveryFrom(env(v)); err == nil || !strings.Contains(err.Error(), "want a duration such as 10s") {
			t.Errorf("PUBSUB_STATS_EVERY=%q: got %v, want an error saying what to set", v, err)
		}
	}
}
