package lifecycle

import (
	"bytes"
	"context"
	"log/slog"
	"log/syslog"
	"sync"
)

// syslogLogger logs under the server's name to the local syslog daemon, or
// to Server.SyslogAddr.
func syslogLogger(s *Server) (*slog.Logger, error) {
	w, err := dialSyslog(s)
	if err != nil {
		return nil, err
	}
	out := &syslogOut{w: w}
	text := slog.NewTextHandler(out, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey) {
				return slog.Attr{} // syslog stamps time and severity itself
			}
			return a
		},
	})
	return slog.New(&syslogHandler{Handler: text, out: out}), nil
}

func dialSyslog(s *Server) (*syslog.Writer, error) {
	return syslog.Dial(s.SyslogNetwork, s.SyslogAddr, syslog.LOG_DAEMON|syslog.LOG_INFO, s.Name)
}

// syslogHandler is slog's text format sent at the syslog severity of each
// record's level.
type syslogHandler struct {
	slog.Handler
	out *syslogOut
}

// syslogOut receives one formatted record per Write.
type syslogOut struct {
	mu    sync.Mutex
	w     *syslog.Writer
	level slog.Level
}

func (h *syslogHandler) Handle(ctx context.Context, r slog.Record) error {
	h.out.mu.Lock()
	defer h.out.mu.Unlock()
	h.out.level = r.Level
	return h.Handler.Handle(ctx, r)
}

func (h *syslogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &syslogHandler{Handler: h.Handler.WithAttrs(as), out: h.out}
}

func (h *syslogHandler) WithGroup(name string) slog.Handler {
	return &syslogHandler{Handler: h.Handler.WithGroup(name), out: h.out}
}

// writeLine sends one line at level, outside slog.
func (o *syslogOut) writeLine(level slog.Level, line string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.level = level
	o.Write([]byte(line))
}

// Write is called with out.mu held, by Handle.
func (o *syslogOut) Write(p []byte) (int, error) {
	line := string(bytes.TrimSuffix(p, []byte("\n")))
	var err error
	switch {
	case o.level >= slog.LevelError:
		err = o.w.Err(line)
	case o.level >= slog.LevelWarn:
		err = o.w.Warning(line)
	default:
		err = o.w.Info(line)
	}
	return len(p), err
}
