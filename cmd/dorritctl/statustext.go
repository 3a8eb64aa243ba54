package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dorritgo/dorrit/internal/control"
)

// writeStatusText prints a status report for people: a first line that
// says whether the server runs, then one line per subject.
func writeStatusText(s *streams, r *statusReport) {
	st := r.Status
	if st == nil {
		who := r.Name
		if who == "" { // --control alone, and nothing answered there
			who = "the server at " + r.Control
		}
		if r.State == "running" {
			fmt.Fprintf(s.stdout, "%s is running as PID %d\n", who, r.PID)
		} else {
			fmt.Fprintf(s.stdout, "%s is not running\n", who)
		}
		if r.Message != "" {
			fmt.Fprintf(s.stderr, "dorritctl status: %s\n", r.Message)
		}
		return
	}
	up := st.Now.Sub(st.Supervisor.Started)
	state := "running"
	if st.Stopping {
		state = "stopping (draining its connections)"
	}
	fmt.Fprintf(s.stdout, "%s is %s: supervisor PID %d, up %s (since %s), %s\n",
		r.Name, state, st.Supervisor.PID, roundDuration(up), st.Supervisor.Started.Format("2006-01-02 15:04:05 MST"), modeText(st))

	tw := tabwriter.NewWriter(s.stdout, 0, 4, 2, ' ', 0)
	line := func(label, format string, args ...any) {
		fmt.Fprintf(tw, "  %s\t%s\n", label, fmt.Sprintf(format, args...))
	}
	for _, sp := range st.Servers {
		label := "server process"
		if sp.Role == control.RoleDraining {
			label = "draining"
		}
		live := "no heartbeat yet"
		if sp.Stats != nil {
			live = plural(sp.Stats.Live, "connection", "connections")
		}
		line(label, "PID %d as %s:%s, up %s, %s", sp.PID, sp.User, sp.Group, roundDuration(st.Now.Sub(sp.Started)), live)
	}
	if len(st.Servers) == 0 {
		line("server process", "none running (restarting after a crash, or stopping)")
	}
	line("binary", "%s", strings.Join(append([]string{st.Supervisor.Binary}, st.Supervisor.Args...), " "))
	sock := st.Socket
	if sock.Error != "" {
		line("socket", "%s: %s", sock.Path, sock.Error)
	} else {
		from := ""
		if sock.Systemd {
			from = ", from systemd"
		}
		line("socket", "%s (%s, owner %s, group %s%s)", sock.Path, sock.Mode, sock.Owner, sock.Group, from)
	}
	if r.Handshake != nil {
		line("handshake", "%s", handshakeText(r.Handshake))
	}
	t := st.Total
	line("connections", "%d now, %d handshaking; %d accepted", t.Live, t.Handshaking, t.Accepted)
	line("refused", "%d%s", t.Refused.Total(), breakdown(
		"full (503)", t.Refused.Full, "bad request", t.Refused.BadRequest, "origin", t.Refused.Origin,
		"unauthorized", t.Refused.Unauthorized, "timeout", t.Refused.Timeout, "peer", t.Refused.Peer))
	line("dropped", "%d%s", t.Dropped.Total(), breakdown(
		"binary", t.Dropped.Binary, "too big", t.Dropped.TooBig, "protocol", t.Dropped.Protocol,
		"bad UTF-8", t.Dropped.BadUTF8, "pong timeout", t.Dropped.PongTimeout, "by the application", t.Dropped.Application))
	line("messages", "%d in (%s), %d out (%s)", t.MessagesIn, byteCount(t.BytesIn), t.MessagesOut, byteCount(t.BytesOut))
	line("queues", "%d writes refused full (%d over the memory budget), %s queued now, %d frames undelivered, %d lingering closes cut",
		t.QueueFull, t.QueueBudget, byteCount(uint64(max(t.QueuedBytes, 0))), t.Undelivered, t.LingerExpired)
	line("supervisor", "%s", supervisorText(st))
	line("control", "%s", st.Supervisor.Control)
	tw.Flush()
	if r.Message != "" {
		fmt.Fprintf(s.stderr, "dorritctl status: %s\n", r.Message)
	}
}

func modeText(st *control.Status) string {
	switch st.Mode {
	case control.ModeDaemon:
		return "daemon (pidfile " + st.Supervisor.Pidfile + ")"
	case control.ModeSystemd:
		return "under systemd (systemctl stops and restarts it)"
	}
	return "in the foreground (-x)"
}

func handshakeText(pr *probeResult) string {
	switch {
	case pr.Upgraded:
		return fmt.Sprintf("answered: 101 Switching Protocols in %.1f ms", pr.MS)
	case pr.Answered:
		return fmt.Sprintf("answered, but refused (%s) in %.1f ms", pr.Error, pr.MS)
	}
	return "NO ANSWER: " + pr.Error
}

func supervisorText(st *control.Status) string {
	text := fmt.Sprintf("crashes %d, restarts after a crash %d, upgrades %d", st.Crashes, st.CrashRestarts, st.Upgrades)
	if failed := st.UpgradeAttempts - st.Upgrades; failed > 0 {
		text += fmt.Sprintf(" (and %d failed)", failed)
	}
	if u := st.LastUpgrade; u != nil {
		ago := roundDuration(st.Now.Sub(u.At))
		if u.OK {
			text += fmt.Sprintf("; the last %s ago: PID %d replaced PID %d", ago, u.NewPID, u.OldPID)
		} else {
			text += fmt.Sprintf("; the last %s ago FAILED: %s (PID %d kept serving)", ago, u.Error, u.OldPID)
		}
	}
	return text
}

// breakdown is ": 3 full (503), 1 timeout" for the non-zero counts of
// label, count pairs, or nothing when all are zero.
func breakdown(pairs ...any) string {
	var parts []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if n := pairs[i+1].(uint64); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, pairs[i]))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return ": " + strings.Join(parts, ", ")
}

// byteCount is n in B, KiB, MiB or GiB.
func byteCount(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 2; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMG"[exp])
}

// roundDuration keeps a duration readable: whole seconds, tenths below
// ten seconds, milliseconds below one.
func roundDuration(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}

// liveIn counts the open connections and the server processes, for
// progress reports.
func liveIn(st *control.Status) (live int64, procs int) {
	for _, sp := range st.Servers {
		procs++
		if sp.Stats != nil {
			live += sp.Stats.Live
		}
	}
	return live, procs
}

// plural is "1 connection" or "3 connections".
func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
