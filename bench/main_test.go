package main

import (
	"os"
	"testing"
)

// TestMain lets the test binary serve as a child: run starts every server
// as os.Executable with -serve, which in a test is this binary, so tests of
// the harness run real server processes through the path a real run takes.
func TestMain(m *testing.M) {
	if len(os.Args) == 5 && os.Args[1] == "-serve" && os.Args[3] == "-socket" {
		raiseFileLimit()
		runChild(os.Args[2], os.Args[4])
		return
	}
	os.Exit(m.Run())
}
