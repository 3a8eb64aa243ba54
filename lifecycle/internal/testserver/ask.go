package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/dorritgo/dorrit/internal/control"
)

// askIfAsked makes the binary a control client instead of a server when
// TESTSERVER_ASK names a control socket, so that a test can ask as another
// account (the binary is where every account may execute it): it prints
// "pid N" for a status, or the error, and exits 0 or 1.
func askIfAsked() {
	path := os.Getenv("TESTSERVER_ASK")
	if path == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := control.Ask(ctx, path, "status")
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Printf("pid %d\n", st.Supervisor.PID)
	os.Exit(0)
}
