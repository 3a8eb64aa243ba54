// Package lifecycle runs a dorrit server the way the libdorrit manual's
// servers run: the manual's flags, an Init hook run as root, the socket
// created as root and handed to the server's account, privileges dropped,
// a daemon with a pidfile and syslog, SIGTERM for a graceful stop, restart
// after a crash and a graceful upgrade on SIGHUP.
//
//	func main() {
//		lifecycle.Main(lifecycle.Server{
//			Name: "echo",
//			Serve: func(ctx context.Context, ln *dorrit.Listener, cfg *lifecycle.Config) error {
//				for {
//					c, err := ln.Accept()
//					if err != nil {
//						return nil // stopping
//					}
//					go serve(ctx, c)
//				}
//			},
//		})
//	}
//
// Main exits the process; Run is the same with the outcome returned, for a
// main that does more than serve: a subcommand, flags of its own
// (Server.Flags, turned into Options and Periodic functions by
// Server.Configure), a context whose end stops the server gracefully, as
// SIGTERM does. Its errors can be inspected: ErrUsage for a bad command line
// (Main's exit status 2), *AlreadyRunningError and ErrAlreadyRunning for a
// second daemon, Init's error wrapped; Main prints others and exits with
// status 1. The daemon and the server processes are the binary started again
// with the same os.Args (so main must reach Run there too, with the same
// Server); there Run parses the command line the first call was given, and
// exits the process instead of returning.
//
// Flags: -l socket, -b buffer size and -m maximum connections, which default
// to the Server's Options.Path, BufferSize and MaxConns, and to the manual's
// /var/run/<name>.socket, 65540 and 2000 where those are zero; -u user and
// -g group (default nobody; where there is no group nobody, the user's
// primary group), -x foreground, -f configuration file (Config.ConfigFile),
// -h accepted for old command lines (the manual's humdinger front server: it
// changes nothing, and the start says so on stderr, with a pointer to
// -help). The options no flag sets reach the server process as given. A
// value outside its flag's range (-b 10..65540, -m 1 or more) is a usage
// error, as a flag that does not parse is: exit status 2, before Init runs.
//
// Order at start: flags → Init (as the starting user, stderr on the
// terminal) → the socket, created as root and given to -u/-g with mode
// 0770 → unless -x, detach into a new session with stdio on /dev/null and
// write /var/run/<name>.pid (when root) → run the server process as -u/-g →
// the start command returns 0 once it accepts, or its error and 1 (Run:
// nil, or the error).
//
// The pidfile is per name, as the manual's rc.d scripts expect, not per
// socket: while a daemon holds it, a second one of the same name is refused
// (*AlreadyRunningError) even on another socket. A second instance runs
// with -x, which writes no pidfile (under a service manager), or with
// another Server.Name.
//
// Go cannot fork, so the process that keeps the socket (the supervisor, which
// stays root when started as root) runs the server as a child: the same
// binary re-executed with the socket on descriptor 3 and the credentials set
// between fork and exec. That is what lets it restart a server that died of
// a panic, SIGSEGV or SIGBUS on the same socket, even after privileges were
// dropped, and start a new binary on SIGHUP while the old server drains,
// without one connection attempt being refused. The replaced server stops
// accepting, completes the handshakes it had begun, serves on for
// Server.UpgradeGrace and then drains with 1001, so no client sees a 503
// or a conversation cut before its answer. The supervisor opens the binary
// anew for each server process and executes the open file (as fexecve(3)
// does), so -u/-g need execute permission on the binary only, not on the
// directories above it.
//
// A restart waits first: 100 ms after a crash, doubling with each crash in
// a row up to 5 s; a server that ran 10 s before it crashed starts a new
// row. The socket stays open meanwhile, so connection attempts wait in its
// backlog. Five crashes within 10 s of running time (the pauses are not
// counted, so they cannot hide a crash loop) stop the supervisor. Each
// crash is logged with its pause, each restart with the new pid, and the
// stop with its reason. Detached, a server process's stderr goes to
// syslog line by line, with its pid: a crash report arrives whole and in
// order (lines over 2 KiB in pieces) before the line about the crash.
// When syslog cannot be reached (not started yet, restarting), logging
// does not wait: each process holds its latest 256 lines, tries again at
// most every 5 s and sends them, oldest first, once syslog answers.
//
// No server process outlives its supervisor by more than a drain: if the
// supervisor dies, even by kill -9, the kernel sends its server processes
// SIGTERM, so they drain (DrainTimeout) and exit, the pidfile's
// lock goes with it and the socket file left behind is replaced by the next
// start, which needs no manual cleanup. The pidfile is the supervisor's
// alone: a server process gets the socket and its pipes to the
// supervisor, no other descriptor, neither the pidfile nor any the start
// command inherited.
//
// The supervisor answers dorritctl status on a control socket,
// <PidDir>/<name>.ctl (/var/run/echo.ctl beside /var/run/echo.pid): one
// JSON request line, one JSON answer line, with its PID and the server
// processes' (replaced ones still draining too), start time, binary and
// command line, the socket with its owner and mode, each server process's
// live dorrit.Stats (from a heartbeat it asks for with the request;
// every second otherwise), the crashes, crash restarts and upgrades so far
// and the last upgrade's outcome. It is mode 0700 and the starting
// account's (root's, for a service), and the supervisor answers root and
// that account only (peer credentials): the front server in the socket's
// group and the server processes running as -u/-g cannot read it. It
// only reports; stopping and upgrading stay with SIGTERM and SIGHUP. A
// daemon with a pidfile always has one (its start fails without it), and
// so does a server under systemd where PidDir is writable (/run, for a
// service started as root); with -x by hand there is none, so that
// development runs leave nothing in /var/run. The flag -control PATH
// (Server.Control) serves it at PATH instead, in every mode and with -x
// too: a server run in the foreground by runit, in a container or by hand
// has no pidfile by which dorritctl could find it, so the operator names
// the socket on both sides (dorritctl status --control PATH). -control is
// a long name because the manual's one-letter flags are fixed. A server
// given -control does not start when it cannot create the socket there,
// nor on a path a live server answers on. It is removed on stop, and
// one left by a killed instance is replaced by the next start.
//
// Under systemd (NOTIFY_SOCKET or LISTEN_FDS set) the server never
// detaches, whatever the flags say, so that the supervisor is the
// service's main PID: systemd accepts notifications from it alone by
// default (NotifyAccess=main). A socket passed with LISTEN_FDS is adopted
// and never unlinked. READY=1, RELOADING=1 with MONOTONIC_USEC (for
// Type=notify-reload), STOPPING=1 and STATUS= with the open connections
// (every 2 s) go to NOTIFY_SOCKET; with WatchdogSec=, WATCHDOG=1 goes every
// half interval while a server process sends its heartbeat.
//
// # À la carte
//
// A daemon that has a main of its own (an HTTP API, other listeners,
// its own flags) does not call Run, which re-executes the whole binary:
// its main would run again in every process, and open its API twice. It
// takes the pieces instead, each without re-execution: LockPidfile
// (*AlreadyRunningError for a second instance), DropPrivileges (in place,
// every thread, -u/-g's defaults), Notify and WatchdogInterval (systemd's
// notifications), SystemdListeners (socket activation), and an Upgrader,
// which on SIGHUP starts the new binary with every listening socket and
// the pidfile inherited and hands over without refusing a connection.
// examples/notify is such a daemon.
package lifecycle
