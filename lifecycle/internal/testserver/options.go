package main

import (
	"fmt"
	"os"
	"runtime/metrics"
	"strconv"
	"time"

	"github.com/dorritgo/dorrit"
)

// optionsFromEnv are the listener options the test server sets in code,
// as an application would: TESTSERVER_OPT_NAME, _PATH, _BUFFER,
// _MAXCONNS, _PING, _PONG and _SOCKETGROUP.
func optionsFromEnv() dorrit.Options {
	atoi := func(key string) int {
		n, _ := strconv.Atoi(os.Getenv(key))
		return n
	}
	duration := func(key string) time.Duration {
		d, _ := time.ParseDuration(os.Getenv(key))
		return d
	}
	return dorrit.Options{
		Name:         os.Getenv("TESTSERVER_OPT_NAME"),
		Path:         os.Getenv("TESTSERVER_OPT_PATH"),
		BufferSize:   atoi("TESTSERVER_OPT_BUFFER"),
		MaxConns:     atoi("TESTSERVER_OPT_MAXCONNS"),
		PingInterval: duration("TESTSERVER_OPT_PING"),
		PongTimeout:  duration("TESTSERVER_OPT_PONG"),
		SocketGroup:  os.Getenv("TESTSERVER_OPT_SOCKETGROUP"),
	}
}

// describeOptions is the answer to "options": what the server process runs with.
func describeOptions(o dorrit.Options) string {
	return fmt.Sprintf("Name=%s Path=%s BufferSize=%d MaxConns=%d PingInterval=%v PongTimeout=%v",
		o.Name, o.Path, o.BufferSize, o.MaxConns, o.PingInterval, o.PongTimeout)
}

// describeMemory is the listener's queue budget and the collections forced
// in this process so far (lifecycle.ReleaseMemory's).
func describeMemory(ln *dorrit.Listener) string {
	forced := []metrics.Sample{{Name: "/gc/cycles/forced:gc-cycles"}}
	metrics.Read(forced)
	return fmt.Sprintf("MaxQueueBytes=%d forced=%d", ln.Options().MaxQueueBytes, forced[0].Value.Uint64())
}
