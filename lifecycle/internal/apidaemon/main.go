// Command apidaemon is an existing daemon as the lifecycle tests run it: a
// net/http API on a TCP port of its own (GET /whoami answers with the
// process's pid) and a dorrit endpoint, with a main of its own.
package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/lifecycle"
)

func main() {
	// The daemon's own API, opened in its own main as an existing daemon does.
	api, err := net.Listen("tcp", os.Getenv("APIDAEMON_API"))
	if err != nil {
		log.Fatal(err)
	}
	http.HandleFunc("/whoami", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%d %d:%d\n", os.Getpid(), os.Getuid(), os.Getgid())
	})
	go http.Serve(api, nil)

	lifecycle.Main(lifecycle.Server{
		Name:   "apidaemon",
		PidDir: os.Getenv("APIDAEMON_PIDDIR"),
		Serve: func(ctx context.Context, ln *dorrit.Listener, cfg *lifecycle.Config) error {
			for {
				c, err := ln.Accept()
				if err != nil {
					return nil
				}
				go func() {
					defer c.Close()
					for {
						msg, err := c.Read(ctx)
						if err != nil {
							return
						}
						c.Write(msg)
					}
				}()
			}
		},
	})
}
