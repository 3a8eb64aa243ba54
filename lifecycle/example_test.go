package lifecycle_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/lifecycle"
)

// echo is the accept loop of the examples: every message comes back.
func echo(ctx context.Context, ln *dorrit.Listener, cfg *lifecycle.Config) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return nil // stopping: lifecycle shut the listener down
		}
		go func() {
			defer c.Close()
			for {
				msg, err := c.Read(ctx)
				if err != nil {
					return
				}
				if err := c.Write(msg); err != nil {
					return
				}
			}
		}()
	}
}

// A server's main is one call: the manual's flags, Init, the socket,
// privileges, daemon, pidfile, syslog, signals and restarts are Main's.
func ExampleMain() {
	lifecycle.Main(lifecycle.Server{
		Name:    "echo",
		Options: dorrit.Options{BufferSize: 4096}, // -b's default; -b still overrides it
		Serve:   echo,
	})
}

// Run leaves main in charge: here the server is the "serve" subcommand
// of a larger program. The daemon and server processes are this binary
// started again with the same os.Args, so main reaches Run there too.
func ExampleRun() {
	if len(os.Args) < 2 || os.Args[1] != "serve" {
		fmt.Fprintln(os.Stderr, "usage: app serve [-x] [-l socket] …")
		os.Exit(2)
	}
	err := lifecycle.Run(context.Background(), lifecycle.Server{Name: "app", Serve: echo}, os.Args[2:])
	var running *lifecycle.AlreadyRunningError
	switch {
	case errors.Is(err, lifecycle.ErrUsage):
		os.Exit(2) // the usage is on stderr already
	case errors.As(err, &running):
		log.Fatalf("app serve: stop the server running as PID %d first", running.PID)
	case err != nil:
		log.Fatalf("app serve: %v", err)
	}
}

// A command line Run cannot use is an ErrUsage, after the flag package
// has printed what is wrong and the usage on stderr. Main exits with
// status 2 for it.
func ExampleRun_usage() {
	err := lifecycle.Run(context.Background(), lifecycle.Server{Name: "echo", Serve: echo}, []string{"-m", "0"})
	fmt.Println(errors.Is(err, lifecycle.ErrUsage))
	fmt.Println(err)
	// Output:
	// true
	// lifecycle: bad command line: invalid value "0" for flag -m: the maximum number of connections must be 1 or more
}

// The application's own flags are defined by Server.Flags and parsed
// together with the manual's, in every process of the server, so Init and
// Serve read the variables they are bound to.
func ExampleServer_flags() {
	greeting := "hello"
	errShown := errors.New("shown")
	s := lifecycle.Server{
		Name: "greeter",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&greeting, "greeting", greeting, "what every client is greeted with")
		},
		Init: func(cfg *lifecycle.Config) error {
			fmt.Println("Init sees -greeting", greeting)
			return errShown // stops the start before anything is created, which is all this example needs
		},
		Serve: func(ctx context.Context, ln *dorrit.Listener, cfg *lifecycle.Config) error {
			for {
				c, err := ln.Accept()
				if err != nil {
					return nil
				}
				go func() {
					defer c.Close()
					c.Write([]byte(greeting))
					<-c.CloseRead(ctx).Done() // until the client leaves
				}()
			}
		},
	}
	err := lifecycle.Run(context.Background(), s, []string{"-x", "-greeting", "bonjour"})
	fmt.Println(errors.Is(err, errShown))
	// Output:
	// Init sees -greeting bonjour
	// true
}

// Options no manual flag sets can come from the application's own flags:
// Configure runs once the command line is parsed, in every process of the
// server, and what it sets in cfg.Options is what the listener gets. Here
// -ping sets the keepalive interval (the echo example's flag).
func ExampleServer_configure() {
	ping := 30 * time.Second
	errShown := errors.New("shown")
	s := lifecycle.Server{
		Name: "pinger",
		Flags: func(fs *flag.FlagSet) {
			fs.DurationVar(&ping, "ping", ping, "ping a client silent this long")
		},
		Configure: func(cfg *lifecycle.Config) error {
			if ping <= 0 {
				return fmt.Errorf("-ping %v: give a positive interval", ping)
			}
			cfg.Options.PingInterval = ping
			return nil
		},
		Init: func(cfg *lifecycle.Config) error {
			fmt.Println("the listener will ping after", cfg.Options.PingInterval)
			return errShown // stops the start before anything is created
		},
		Serve: func(ctx context.Context, ln *dorrit.Listener, cfg *lifecycle.Config) error { return nil },
	}
	err := lifecycle.Run(context.Background(), s, []string{"-x", "-ping", "5s"})
	fmt.Println(errors.Is(err, errShown))
	// Output:
	// the listener will ping after 5s
	// true
}

// A daemon that keeps its own main takes the pieces it wants. The order
// matters: the pidfile first (a second instance changes nothing), then
// the sockets as root, then the privilege drop.
func ExampleDropPrivileges() {
	account, err := lifecycle.LookupAccount("nobody", "www-data") // a wrong name changes nothing
	if err != nil {
		log.Fatal(err)
	}
	pf, err := lifecycle.LockPidfile("/run/notify.pid")
	if err != nil {
		log.Fatal(err) // *AlreadyRunningError: another instance runs
	}
	defer pf.Remove()
	ln, err := dorrit.Listen(dorrit.Options{
		Path:       "/run/notify.socket",
		SocketUser: strconv.Itoa(account.UID), SocketGroup: strconv.Itoa(account.GID),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	acct, err := lifecycle.DropPrivileges("nobody", "www-data")
	switch {
	case errors.Is(err, lifecycle.ErrNotRoot):
		log.Print(err) // a development run as oneself
	case err != nil:
		log.Fatal(err)
	default:
		log.Print("running as ", acct)
	}
	// … serve ln
}

// A second instance is refused while the first holds the pidfile.
func ExampleLockPidfile() {
	path := filepath.Join(os.TempDir(), "example-lockpidfile.pid")
	pf, err := lifecycle.LockPidfile(path)
	if err != nil {
		log.Fatal(err)
	}
	defer pf.Remove()

	// The same from another process (here: another descriptor).
	_, err = lifecycle.LockPidfile(path)
	var running *lifecycle.AlreadyRunningError
	fmt.Println(errors.As(err, &running), running.PID == os.Getpid())
	// Output: true true
}

// Under systemd (Type=notify-reload, WatchdogSec=), a daemon says when it
// is ready, reloading and stopping, shows a status line and pings the
// watchdog. Without NOTIFY_SOCKET, Notify does nothing.
func ExampleNotify() {
	lifecycle.Notify("READY=1")
	if d := lifecycle.WatchdogInterval(); d > 0 {
		go func() {
			for range time.Tick(d / 2) {
				lifecycle.Notify("WATCHDOG=1")
			}
		}()
	}
	lifecycle.Notify("STATUS=42 browsers connected")
	// … on SIGTERM:
	lifecycle.Notify("STOPPING=1")
}

// Sockets from systemd's socket activation (a .socket unit with
// ListenStream=/run/notify.socket): the UNIX one is the dorrit socket.
func ExampleSystemdListeners() {
	ls, err := lifecycle.SystemdListeners()
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range ls {
		if l.Addr().Network() == "unix" {
			ln, err := dorrit.Listen(dorrit.Options{Listener: l})
			if err != nil {
				log.Fatal(err)
			}
			defer ln.Close()
			// … serve ln
		}
	}
}

// An existing daemon with an HTTP API and a dorrit endpoint upgrades on
// SIGHUP: the new binary inherits both listeners and the pidfile, so
// nothing binds twice and no connection is refused. examples/notify is
// the whole program.
func ExampleUpgrader() {
	up, err := lifecycle.NewUpgrader() // what the old process or systemd passed
	if err != nil {
		log.Fatal(err)
	}
	defer up.Stop()
	pf, err := up.LockPidfile("/run/notify.pid")
	if err != nil {
		log.Fatal(err)
	}
	defer pf.Remove()
	apiListener, err := up.Listen("tcp", "127.0.0.1:8080")
	if err != nil {
		log.Fatal(err)
	}
	sock, err := up.ListenDorrit(dorrit.Options{Path: "/run/notify.socket", SocketGroup: "www-data"})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := lifecycle.DropPrivileges("nobody", ""); err != nil && !errors.Is(err, lifecycle.ErrNotRoot) {
		log.Fatal(err)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM)
	if err := up.Ready(); err != nil { // an upgraded process waits here for the old one to let go
		log.Fatal(err)
	}

	ln, err := dorrit.Listen(dorrit.Options{Listener: sock})
	if err != nil {
		log.Fatal(err)
	}
	api := &http.Server{Handler: http.NotFoundHandler()}
	go api.Serve(apiListener)
	// … go accept(ln)

	for stop := false; !stop; {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGTERM {
				lifecycle.Notify("STOPPING=1")
				stop = true
				break
			}
			go func() {
				if err := up.Upgrade(context.Background()); err != nil {
					log.Print(err) // the new binary failed: this one serves on
				}
			}()
		case <-up.Upgraded():
			stop = true
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Stop taking requests; those taken finish. (Shutdown drops a
	// connection accepted whose request it has not read yet:
	// examples/notify waits for those first.)
	api.Shutdown(ctx)
	ln.Close() // stop accepting WebSockets
	// … wait until the accept loop has seen Accept fail: every handshake
	// in progress was handed out
	up.Release()     // the new process starts accepting
	ln.Shutdown(ctx) // queues delivered, then 1001: clients reconnect to the new process
}

// A Periodic whose interval is a flag: Configure adds it once the command
// line is parsed, and leaves it out when the flag turns it off (-stats 0).
func ExampleServer_periodicFromAFlag() {
	stats := 10 * time.Second
	errShown := errors.New("shown")
	s := lifecycle.Server{
		Name: "ticker",
		Flags: func(fs *flag.FlagSet) {
			fs.DurationVar(&stats, "stats", stats, "how often to log the figures; 0: never")
		},
		Configure: func(cfg *lifecycle.Config) error {
			if stats < 0 {
				return fmt.Errorf("-stats %v: give a positive interval, or 0 for never", stats)
			}
			if stats > 0 {
				cfg.Periodic = append(cfg.Periodic, lifecycle.Periodic{
					Every: stats,
					Func:  func(context.Context) { log.Print("figures") },
				})
			}
			return nil
		},
		Init: func(cfg *lifecycle.Config) error {
			fmt.Println("the server process runs a Periodic every", cfg.Periodic[0].Every)
			return errShown // stops the start before anything is created
		},
		Serve: echo,
	}
	err := lifecycle.Run(context.Background(), s, []string{"-x", "-stats", "1m"})
	fmt.Println(errors.Is(err, errShown))
	// Output:
	// the server process runs a Periodic every 1m0s
	// true
}

// A daemon that keeps its own main and calls dorrit.Listen itself gives
// the memory its connections left behind back to the system as lifecycle's
// server process does, by running ReleaseMemory beside its accept loop.
func ExampleReleaseMemory() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	ln, err := dorrit.Listen(dorrit.Options{Path: "/run/notify.socket"})
	if err != nil {
		log.Fatal(err)
	}
	go lifecycle.ReleaseMemory(ctx, ln)
	go func() {
		<-ctx.Done()
		ln.Shutdown(context.Background())
	}()
	echo(ctx, ln, nil)
}
