package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/coder/websocket"
	"github.com/dorritgo/dorrit/internal/control"
)

var statusCommand = &command{
	name:     "status",
	synopsis: "NAME|--control PATH [--json] [--watch] [--interval D] [--timeout D] [--piddir DIR | --pidfile FILE]",
	summary:  "show whether a server runs, its processes and its live figures",
	order:    12,
	details: `
Finds the server by its pidfile, /var/run/NAME.pid, and asks its
supervisor over the private control socket beside it, /var/run/NAME.ctl
(root's, mode 0700: run as root), for what only the running server knows:
supervisor and server process PIDs (and replaced ones still draining),
uptime, binary and command line, the socket with its owner and mode, the
live figures (connections now, accepted, refused and dropped by reason,
messages and bytes in and out, queue-full refusals), crash restarts and
upgrades. Then it proves that the server answers a WebSocket handshake on
its public socket.

A server run in the foreground (-x: by hand, by runit, in a container)
has no pidfile; given -control PATH it serves its control socket there,
and dorritctl status --control PATH shows it.

The figures add up every server process since the supervisor started;
those of a server process that crashed count up to its last heartbeat
(a second at most before the crash). --json gives the figures of each
server process too.

  --json           one JSON object: state, exit status, the supervisor's status, the handshake
  --watch          refresh every --interval until Ctrl-C (one JSON object a line with --json)
  --interval D     refresh interval for --watch (default 2s)
  --timeout D      bound on the handshake (default 5s)
` + serviceFlagsHelp + `

Exit status (LSB status): 0 running, 1 not running but the pidfile is
left (the server was killed), 3 not running, 4 unknown: the control
socket is root's (run as root), the pidfile cannot be read, or the
server runs but answers no handshake.`,
}

func init() {
	statusCommand.run = runStatus
	register(statusCommand)
}

// LSB status exit codes.
const (
	statusRunning    = 0
	statusDead       = 1
	statusNotRunning = 3
	statusUnknown    = 4
)

// statusReport is what status found, as --json prints it.
type statusReport struct {
	Name      string          `json:"name"`
	State     string          `json:"state"` // running, dead, stopped, unknown
	Exit      int             `json:"exit"`
	Message   string          `json:"message,omitempty"` // what is wrong, and what to do
	Pidfile   string          `json:"pidfile"`           // empty for a server found by --control alone
	Control   string          `json:"control"`
	PID       int             `json:"pid,omitempty"` // the supervisor's
	Status    *control.Status `json:"status,omitempty"`
	Handshake *probeResult    `json:"handshake,omitempty"`
}

// probeResult is the handshake status makes on the public socket.
type probeResult struct {
	Answered   bool    `json:"answered"` // an HTTP answer: 101, or a refusal such as 503 when full
	Upgraded   bool    `json:"upgraded"`
	HTTPStatus int     `json:"http_status,omitempty"`
	MS         float64 `json:"ms"`
	Error      string  `json:"error,omitempty"`
}

func runStatus(s *streams, args []string) int {
	c := statusCommand
	fs := newFlags(c)
	asJSON := fs.Bool("json", false, "")
	watch := fs.Bool("watch", false, "")
	interval := fs.Duration("interval", 2*time.Second, "")
	timeout := fs.Duration("timeout", 5*time.Second, "")
	sa, status := parseService(c, s, fs, args, noCommand)
	if sa == nil {
		return status
	}
	if *interval <= 0 || *timeout <= 0 {
		return c.usage(s, "--interval and --timeout must be positive")
	}

	ctx, stop := serviceContext()
	defer stop()
	show := func() int {
		r := inspect(ctx, sa.serviceFlags, sa.name, *timeout)
		if *asJSON {
			b, _ := json.Marshal(r)
			fmt.Fprintf(s.stdout, "%s\n", b)
		} else {
			if *watch && isTerminal(os.Stdout) && s.stdout == os.Stdout {
				fmt.Fprint(s.stdout, "\x1b[H\x1b[2J") // home, clear: a refreshing screen
			}
			writeStatusText(s, r)
		}
		return r.Exit
	}
	code := show()
	if !*watch {
		return code
	}
	t := time.NewTicker(*interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return code
		case <-t.C:
			if !*asJSON && !(isTerminal(os.Stdout) && s.stdout == os.Stdout) {
				fmt.Fprintln(s.stdout)
			}
			code = show()
		}
	}
}

// inspect finds the server and judges its state.
func inspect(ctx context.Context, sf *serviceFlags, name string, timeout time.Duration) *statusReport {
	svc := sf.locate(ctx, name)
	if name == "" && svc.status != nil {
		name = svc.status.Name // the server on --control says who it is
	}
	r := &statusReport{Name: name, Pidfile: svc.pidfile, Control: svc.control, Status: svc.status, PID: svc.supervisorPID()}
	switch svc.state() {
	case stateStopped:
		r.State, r.Exit, r.Message = "stopped", statusNotRunning, svc.notRunningText()
	case stateDead:
		r.State, r.Exit = "dead", statusDead
		r.Message = svc.deadText() + fmt.Sprintf("; see the log (journalctl -t %s, or /var/log/syslog) for why, then start it again", name)
	case stateUnknown:
		r.State, r.Exit = "unknown", statusUnknown
		r.Message, _ = svc.pidfileReadText()
	case stateRunning:
		r.State, r.Exit = "running", statusRunning
		if svc.status == nil {
			msg, code := svc.unreachableText()
			r.Message = msg
			if code == exitNoPermission {
				r.Exit = statusUnknown
			}
			return r
		}
		pr := probe(ctx, svc.status.Socket.Path, timeout)
		r.Handshake = pr
		if !pr.Answered {
			r.Exit = statusUnknown
			r.Message = fmt.Sprintf("%s runs (supervisor PID %d), but no handshake is answered on %s: %s", svc.name, r.PID, svc.status.Socket.Path, pr.Error)
		}
	}
	return r
}

// probe makes a WebSocket handshake on the public socket, as a front
// server would, and closes normally.
func probe(ctx context.Context, socket string, timeout time.Duration) *probeResult {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	conn, resp, err := dial(ctx, socket, handshake{})
	pr := &probeResult{MS: float64(time.Since(start).Microseconds()) / 1000}
	if resp != nil {
		pr.Answered, pr.HTTPStatus = true, resp.StatusCode
	}
	if err != nil {
		msg, _ := dialFailure(socket, resp, err, timeout)
		pr.Error = msg
		return pr
	}
	pr.Answered, pr.Upgraded, pr.HTTPStatus = true, true, http.StatusSwitchingProtocols
	conn.Close(websocket.StatusNormalClosure, "")
	return pr
}
