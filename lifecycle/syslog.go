package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"
)

// Syslog delivery. A daemon may start before the syslog daemon does, or
// outlive a restart of it, so the connection is made again whenever it is
// missing or a write fails. Logging never waits for that: dialling happens
// on a goroutine of its own, lines logged meanwhile are held (the latest
// heldMax, with their own time stamps) and sent first once syslog answers.
const (
	heldMax      = 256
	redialFirst  = 100 * time.Millisecond
	redialMax    = 5 * time.Second
	syslogDial   = time.Second // for a remote syslog; a local one answers at once or not at all
	syslogWrite  = time.Second // a syslog daemon that takes no line for this long is treated as gone
	syslogFacDmn = 3 << 3      // LOG_DAEMON

	// syslogMaxLine cuts a longer message: it would not fit a datagram
	// (and syslog daemons cut far shorter ones), and a line that can never
	// be sent must not stay in front of every later one.
	syslogMaxLine = 16 << 10
)

// syslogLogger logs under the server's name to the local syslog daemon, or
// to Server.SyslogAddr, whether or not it is reachable yet.
func syslogLogger(s *Server) *slog.Logger {
	out := newSyslogOut(s)
	text := slog.NewTextHandler(out, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey) {
				return slog.Attr{} // syslog stamps time and severity itself
			}
			return a
		},
	})
	return slog.New(&syslogHandler{Handler: text, out: out})
}

// probeSyslog reports whether syslog can be reached now.
func probeSyslog(s *Server) error {
	c, err := dialSyslog(s.SyslogNetwork, s.SyslogAddr)
	if err != nil {
		return err
	}
	return c.Close()
}

// dialSyslog connects as log/syslog does: the local daemon on one of the
// usual sockets when network is empty, else network and addr.
func dialSyslog(network, addr string) (net.Conn, error) {
	if network == "" {
		for _, nw := range []string{"unixgram", "unix"} {
			for _, path := range []string{"/dev/log", "/var/run/syslog", "/var/run/log"} {
				if c, err := net.DialTimeout(nw, path, syslogDial); err == nil {
					return c, nil
				}
			}
		}
		return nil, errors.New("no syslog daemon on /dev/log, /var/run/syslog or /var/run/log")
	}
	return net.DialTimeout(network, addr, syslogDial)
}

// syslogHandler is slog's text format sent at the syslog severity of each
// record's level.
type syslogHandler struct {
	slog.Handler
	out *syslogOut
}

func (h *syslogHandler) Handle(ctx context.Context, r slog.Record) error {
	h.out.mu.Lock()
	defer h.out.mu.Unlock()
	h.out.level, h.out.time = r.Level, r.Time
	return h.Handler.Handle(ctx, r)
}

func (h *syslogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &syslogHandler{Handler: h.Handler.WithAttrs(as), out: h.out}
}

func (h *syslogHandler) WithGroup(name string) slog.Handler {
	return &syslogHandler{Handler: h.Handler.WithGroup(name), out: h.out}
}

// syslogOut receives one formatted record per Write and sends it to
// syslog, or holds it while syslog cannot be reached.
type syslogOut struct {
	network, addr, tag, hostname string
	local                        bool // a daemon on this host: log/syslog's short format, without host name

	mu        sync.Mutex
	level     slog.Level // of the record being written, set by Handle
	time      time.Time  // likewise
	conn      net.Conn   // nil while syslog cannot be reached
	held      [][]byte   // formatted lines waiting for syslog, oldest first
	lost      int        // lines dropped from held because it was full
	redialing bool
}

func newSyslogOut(s *Server) *syslogOut {
	o := &syslogOut{network: s.SyslogNetwork, addr: s.SyslogAddr, tag: s.Name}
	switch o.network {
	case "", "unix", "unixgram":
		o.local = true
	}
	o.hostname, _ = os.Hostname()
	if o.hostname == "" {
		o.hostname = "localhost"
	}
	// One try at once, so that a process that logs a line and exits gets
	// it out; after that only the redialling goroutine dials.
	o.conn, _ = dialSyslog(o.network, o.addr)
	return o
}

// writeLine sends one line at level, outside slog.
func (o *syslogOut) writeLine(level slog.Level, line string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.level, o.time = level, time.Now()
	o.Write([]byte(line))
}

// Write is called with out.mu held, by Handle or writeLine.
func (o *syslogOut) Write(p []byte) (int, error) {
	o.send(o.format(o.level, o.time, string(bytes.TrimSuffix(p, []byte("\n")))))
	return len(p), nil
}

// format is log/syslog's line: the short form for a local daemon, with
// the host name for another.
func (o *syslogOut) format(level slog.Level, t time.Time, msg string) []byte {
	if t.IsZero() {
		t = time.Now()
	}
	sev := 6 // info
	switch {
	case level >= slog.LevelError:
		sev = 3
	case level >= slog.LevelWarn:
		sev = 4
	}
	if len(msg) > syslogMaxLine {
		msg = fmt.Sprintf("%s… [%d bytes cut]", msg[:syslogMaxLine], len(msg)-syslogMaxLine)
	}
	if o.local {
		return fmt.Appendf(nil, "<%d>%s %s[%d]: %s\n", syslogFacDmn|sev, t.Format(time.Stamp), o.tag, os.Getpid(), msg)
	}
	return fmt.Appendf(nil, "<%d>%s %s %s[%d]: %s\n", syslogFacDmn|sev, t.Format(time.RFC3339), o.hostname, o.tag, os.Getpid(), msg)
}

// send writes a line, or holds it and has the connection made again.
// Called with mu held.
func (o *syslogOut) send(line []byte) {
	if o.conn != nil && len(o.held) == 0 {
		if o.writeConn(line) == nil {
			return
		}
	}
	if len(o.held) == heldMax {
		o.held = o.held[1:]
		o.lost++
	}
	o.held = append(o.held, line)
	if !o.redialing {
		o.redialing = true
		go o.redial()
	}
}

// writeConn writes one line; a failure drops the connection. Called with
// mu held.
func (o *syslogOut) writeConn(line []byte) error {
	o.conn.SetWriteDeadline(time.Now().Add(syslogWrite))
	_, err := o.conn.Write(line)
	if err != nil {
		o.conn.Close()
		o.conn = nil
	}
	return err
}

// redial connects again, pausing longer after each failure up to
// redialMax, then sends what was held, a word about lost lines first.
func (o *syslogOut) redial() {
	pause := redialFirst
	for {
		o.mu.Lock()
		c := o.conn
		o.mu.Unlock()
		if c == nil {
			if nc, err := dialSyslog(o.network, o.addr); err == nil {
				o.mu.Lock()
				o.conn, c = nc, nc
				o.mu.Unlock()
			}
		}
		if c != nil && o.flush() {
			return
		}
		time.Sleep(pause)
		pause = min(2*pause, redialMax)
	}
}

// flush sends the held lines; it reports whether all went, and ends the
// redialling then.
func (o *syslogOut) flush() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.lost > 0 {
		note := o.format(slog.LevelWarn, time.Now(), fmt.Sprintf("syslog could not be reached: %d earlier lines lost", o.lost))
		if o.writeConn(note) != nil {
			return false
		}
		o.lost = 0
	}
	for len(o.held) > 0 {
		if o.writeConn(o.held[0]) != nil {
			return false
		}
		o.held = o.held[1:]
	}
	o.redialing = false
	return true
}
