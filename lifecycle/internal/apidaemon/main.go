// Command apidaemon is an existing daemon as the lifecycle tests run it: a
// net/http API on a TCP port of its own (GET /whoami answers with the
// process's pid and account) and a dorrit endpoint (a message "whoami"
// gets the same answer, anything else its echo), with a main of its own
// that takes lifecycle's pieces à la carte.
//
// With the file named by -fail present, a process started by an upgrade
// fails before it is ready, as a broken new binary would.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/lifecycle"
)

func main() {
	socket := flag.String("l", "", "dorrit socket")
	apiAddr := flag.String("api", "127.0.0.1:8080", "address of the HTTP API")
	pidfile := flag.String("pidfile", "", "pidfile")
	userName := flag.String("u", "nobody", "user to run as")
	groupName := flag.String("g", "", "group to run as")
	failFile := flag.String("fail", "", "a process started by an upgrade fails while this file exists")
	readyDelay := flag.Duration("ready-delay", 0, "a process started by an upgrade waits this long before Ready")
	flag.Parse()
	log.SetPrefix(fmt.Sprintf("apidaemon[%d]: ", os.Getpid()))

	up, err := lifecycle.NewUpgrader()
	if err != nil {
		log.Fatal(err)
	}
	defer up.Stop()
	if *pidfile != "" {
		pf, err := up.LockPidfile(*pidfile)
		if err != nil {
			log.Fatal(err)
		}
		defer pf.Remove()
	}
	api, err := up.Listen("tcp", *apiAddr)
	if err != nil {
		log.Fatal(err)
	}
	sock, err := up.ListenDorrit(dorrit.Options{Path: *socket, SocketUser: *userName, SocketGroup: *groupName})
	if err != nil {
		log.Fatal(err)
	}
	acct, err := lifecycle.DropPrivileges(*userName, *groupName)
	switch {
	case errors.Is(err, lifecycle.ErrNotRoot):
		log.Print(err)
	case err != nil:
		log.Fatal(err)
	default:
		log.Printf("running as %v", acct)
	}
	if up.HasParent() && *failFile != "" {
		if _, err := os.Stat(*failFile); err == nil {
			log.Fatalf("failing as asked (%s exists)", *failFile)
		}
	}
	if up.HasParent() && *readyDelay > 0 {
		log.Printf("waiting %v before Ready", *readyDelay)
		time.Sleep(*readyDelay)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	if err := up.Ready(); err != nil {
		log.Fatal(err)
	}

	ln, err := dorrit.Listen(dorrit.Options{Listener: sock})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, identity())
	})
	var fresh freshConns
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ConnState: fresh.track}
	served := make(chan struct{})
	go func() { srv.Serve(api); close(served) }()
	accepted := make(chan struct{})
	go func() { acceptLoop(ln); close(accepted) }()
	log.Printf("accepting pid=%d", os.Getpid())
	handover := false
	for stop := false; !stop; {
		select {
		case sig := <-sigs:
			if sig != syscall.SIGHUP {
				lifecycle.Notify("STOPPING=1")
				stop = true
				break
			}
			go func() {
				if err := up.Upgrade(context.Background()); err != nil {
					log.Print(err)
				}
			}()
		case <-up.Upgraded():
			log.Print("upgraded: handing over")
			stop, handover = true, true
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Stop accepting, and let every connection taken in get its answer:
	// http.Server.Shutdown drops a connection whose request it has not read
	// yet, so it comes once each has been read.
	api.Close()
	<-served
	fresh.wait(ctx)
	srv.Shutdown(ctx)
	ln.Close() // stop accepting WebSockets
	<-accepted // the handshakes in progress are handed out
	if handover {
		log.Print("releasing")
	}
	up.Release() // the new process starts accepting
	// Conversations begun just before the hand-over get their answers, as
	// under Run (Server.UpgradeGrace); SIGTERM drains at once.
	if handover {
		time.Sleep(time.Second)
	}
	if err := ln.Shutdown(ctx); err != nil {
		log.Print(err)
	}
	log.Print("stopped")
}

func identity() string {
	return fmt.Sprintf("pid=%d uid=%d gid=%d", os.Getpid(), os.Getuid(), os.Getgid())
}

func acceptLoop(ln *dorrit.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			for {
				msg, err := c.Read(context.Background())
				if err != nil {
					return
				}
				if string(msg) == "whoami" {
					msg = []byte(identity())
				}
				if c.Write(msg) != nil {
					return
				}
			}
		}()
	}
}

// freshConns are the HTTP connections accepted whose first request has not
// been read yet.
type freshConns struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// track is the http.Server's ConnState hook.
func (f *freshConns) track(c net.Conn, st http.ConnState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conns == nil {
		f.conns = map[net.Conn]struct{}{}
	}
	if st == http.StateNew {
		f.conns[c] = struct{}{}
	} else {
		delete(f.conns, c)
	}
}

// wait returns when no connection waits for its first request to be
// read, or when ctx ends.
func (f *freshConns) wait(ctx context.Context) {
	for {
		f.mu.Lock()
		n := len(f.conns)
		f.mu.Unlock()
		if n == 0 || ctx.Err() != nil {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
