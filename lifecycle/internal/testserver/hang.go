package main

import (
	"os"
	"time"
)

// hangIfAsked makes Serve ignore the stop when TESTSERVER_HANG is set: it
// never returns, so the server process outlives SIGTERM until the
// supervisor kills it after the drain time (TESTSERVER_DRAIN), as a server
// stuck in its own code would. (A sleep, not select{}: with nothing else
// runnable the runtime would call that a deadlock and exit.)
func hangIfAsked() {
	if os.Getenv("TESTSERVER_HANG") == "" {
		return
	}
	for {
		time.Sleep(time.Hour)
	}
}
