package main

import (
	"strings"
	"testing"
	"time"
)

func TestSettings(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	s, err := settingsFrom(env())
	if err != nil || s != (settings{history: 1000, statsEvery: 10 * time.Second}) {
		t.Fatalf("defaults: got %+v, %v", s, err)
	}
	s, err = settingsFrom(env("PUBSUB_BROKER", "redis://r:6379/2", "PUBSUB_HISTORY", "50", "PUBSUB_STATS_EVERY", "0"))
	if err != nil || s != (settings{broker: "redis://r:6379/2", history: 50}) {
		t.Fatalf("all set: got %+v, %v", s, err)
	}
	for _, tc := range []struct{ k, v, want string }{
		{"PUBSUB_BROKER", "localhost:6379", "want redis://host:port"},
		{"PUBSUB_BROKER", "redis://host:notaport", "want redis://host:port"},
		{"PUBSUB_HISTORY", "0", "1 to 1000000"},
		{"PUBSUB_HISTORY", "many", "1 to 1000000"},
		{"PUBSUB_STATS_EVERY", "10", "want a duration such as 10s"},
		{"PUBSUB_STATS_EVERY", "1ns", "at least 10ms"},
	} {
		if _, err := settingsFrom(env(tc.k, tc.v)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%s: got %v, want an error saying %q", tc.k, tc.v, err, tc.want)
		}
	}
}
