// Command notify is an existing net/http daemon, a JSON API on a listener
// of its own, with a dorrit endpoint that pushes notifications to
// browsers. It keeps its own main and takes from package lifecycle what a
// daemon wants: a pidfile, its sockets created as root, privileges dropped
// in place, systemd notifications, and an upgrade on SIGHUP that hands
// every socket to the new binary, losing no notification.
//
//	go build -o /usr/local/bin/notify ./examples/notify
//	NOTIFY_SECRET=$(head -c32 /dev/urandom | base64) notify -g www-data
//
// Browsers connect to /notify/?user=alice&token=… through the front
// server (README.md has the nginx location); the token comes from the API
// (GET /token?user=alice), which the web application calls. The API, on
// 127.0.0.1:8080 by default:
//
//	POST /notify {"user": "alice", "text": "hi"}   to alice's browsers (no user: everyone)
//	GET  /stats
//
// A browser receives {"id": …, "user": "alice", "text": "hi"} per
// notification. When its connection closes (an upgrade or a stop: 1001;
// too slow: 1008) it reconnects with &since=<last id> and receives what it
// missed, from the last 1024 notifications.
//
// SIGTERM stops gracefully: the API stops taking requests, every
// notification already queued is delivered, then browsers get 1001.
// SIGHUP starts the binary now on disk with the sockets and the pidfile;
// once it is ready this process stops taking requests, lets it accept,
// delivers its queues and ends.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/lifecycle"
)

type daemon struct {
	hub    *hub
	ws     *dorrit.Listener
	secret []byte
}

func main() {
	socket := flag.String("l", "/run/notify.socket", "the dorrit `socket` the front server forwards to")
	apiAddr := flag.String("api", "127.0.0.1:8080", "`address` of the JSON API")
	pidfile := flag.String("pidfile", "/run/notify.pid", "`path` of the pidfile; empty for none")
	userName := flag.String("u", "nobody", "`user` to run as (when started as root)")
	groupName := flag.String("g", "", "`group` to run as and of the socket (the front server's: www-data); default nobody, or the user's primary group")
	drain := flag.Duration("drain", 10*time.Second, "how long a stop or an upgrade may take to deliver what is queued")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix(fmt.Sprintf("notify[%d]: ", os.Getpid()))
	if err := run(*socket, *apiAddr, *pidfile, *userName, *groupName, *drain); err != nil {
		log.Fatal(err)
	}
}

func run(socket, apiAddr, pidfile, userName, groupName string, drain time.Duration) error {
	// A wrong -u or -g changes nothing.
	acct, err := lifecycle.LookupAccount(userName, groupName)
	if err != nil {
		return err
	}
	// What the process this one replaces passed on, or systemd.
	up, err := lifecycle.NewUpgrader()
	if err != nil {
		return err
	}
	defer up.Stop()
	if pidfile != "" {
		pf, err := up.LockPidfile(pidfile)
		if err != nil {
			return err // another instance runs
		}
		defer pf.Remove()
	}

	// The sockets, as root, before the privileges go.
	apiListener, err := up.Listen("tcp", apiAddr)
	if err != nil {
		return err
	}
	o := dorrit.Options{Path: socket}
	if os.Geteuid() == 0 { // the socket is the account's, as lifecycle.Run makes it
		o.SocketUser, o.SocketGroup = strconv.Itoa(acct.UID), strconv.Itoa(acct.GID)
	}
	sock, err := up.ListenDorrit(o)
	if err != nil {
		return err
	}
	switch acct, err := lifecycle.DropPrivileges(userName, groupName); {
	case errors.Is(err, lifecycle.ErrNotRoot):
		log.Print(err)
	case err != nil:
		return err
	default:
		log.Print("running as ", acct)
	}

	d := &daemon{hub: newHub(), secret: secret()}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	if err := up.Ready(); err != nil { // after an upgrade: waits for the old process to let go
		return err
	}

	d.ws, err = dorrit.Listen(dorrit.Options{Listener: sock, Authorize: d.authorize})
	if err != nil {
		return err
	}
	api := newHTTP(d.api(), apiListener)
	go api.serve()
	accepted := make(chan struct{})
	go func() { d.accept(); close(accepted) }()
	go d.reportToSystemd()
	housekeeping, endHousekeeping := context.WithCancel(context.Background())
	defer endHousekeeping()
	go lifecycle.ReleaseMemory(housekeeping, d.ws) // memory a burst of browsers left, back to the system
	log.Printf("accepting: API on %s, browsers on %s", apiAddr, sock.Addr())

	upgraded := false
	for stop := false; !stop; {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				go func() {
					if err := up.Upgrade(context.Background()); err != nil {
						log.Print(err) // this process serves on
					}
				}()
				continue
			}
			log.Print("stopping on ", sig)
			lifecycle.Notify("STOPPING=1")
			stop = true
		case <-up.Upgraded():
			log.Print("upgraded: the new process takes over")
			stop, upgraded = true, true
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	api.stop(ctx) // every request taken is answered, its notification queued
	d.ws.Close()  // no new browsers; the handshakes begun are handed out
	<-accepted
	if upgraded {
		up.Release() // the new process accepts from now on
	}
	// Every queue delivered, then 1001; after an upgrade, browsers
	// reconnect to the new process with ?since= and miss nothing.
	if err := d.ws.Shutdown(ctx); err != nil {
		return fmt.Errorf("stopped, but not everything was delivered: %w", err)
	}
	log.Print("stopped")
	return nil
}

// accept registers each browser under the user Authorize found, before
// its 101 leaves, so that a notification sent once its client is
// connected reaches it.
func (d *daemon) accept() {
	for {
		c, err := d.ws.Accept()
		if err != nil {
			return // closed
		}
		user := c.Value().(string) // what authorize returned
		since, _ := strconv.ParseInt(c.URL().Query().Get("since"), 10, 64)
		d.hub.register(c, user, since)
		go func() {
			<-c.CloseRead(context.Background()).Done() // push only: the browser sends nothing
			d.hub.unregister(c)
		}()
	}
}

// secret signs the browsers' tokens. It must outlive the process: from
// NOTIFY_SECRET, or made up now and put there for the processes that
// upgrades start, which inherit the environment.
func secret() []byte {
	if s := os.Getenv("NOTIFY_SECRET"); s != "" {
		return []byte(s)
	}
	b := make([]byte, 32)
	rand.Read(b)
	s := hex.EncodeToString(b)
	os.Setenv("NOTIFY_SECRET", s)
	log.Print("NOTIFY_SECRET not set: tokens last until the daemon stops")
	return []byte(s)
}

// reportToSystemd pings systemd's watchdog every half WatchdogSec= (when
// it asks) and keeps the status line systemctl shows up to date.
func (d *daemon) reportToSystemd() {
	if os.Getenv("NOTIFY_SOCKET") == "" {
		return
	}
	every := 2 * time.Second
	if w := lifecycle.WatchdogInterval(); w > 0 {
		every = min(every, w/2)
	}
	shown := ""
	for range time.Tick(every) {
		st := d.hub.stats()
		status := fmt.Sprintf("STATUS=%d browsers, %d notifications", st.Browsers, st.Sent)
		if status != shown {
			lifecycle.Notify(status)
			shown = status
		}
		if lifecycle.WatchdogInterval() > 0 {
			lifecycle.Notify("WATCHDOG=1")
		}
	}
}
