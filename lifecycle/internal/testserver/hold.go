package main

import (
	"os"
	"strconv"
	"time"
)

// holdWhile makes a process started while path exists write its pid to
// path.held and wait until path is removed (at most 20 s), so that a test
// can act while a new server process has started but not yet adopted the
// socket.
func holdWhile(path string) {
	if _, err := os.Stat(path); err != nil {
		return
	}
	os.WriteFile(path+".held", []byte(strconv.Itoa(os.Getpid())), 0o644)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(path); err != nil {
			return
		}
	}
}
