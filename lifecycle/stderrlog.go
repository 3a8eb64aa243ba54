package lifecycle

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"
)

const (
	// stderrPiece bounds one syslog record made from a server process's
	// stderr. Syslog daemons cut longer records (RFC 3164 allows 1 KiB,
	// rsyslog keeps 8 KiB by default), so a longer line goes out in pieces
	// of this size, in order.
	stderrPiece = 2048

	// stderrGrace is how long the supervisor waits, after a server process
	// exited, for the rest of its stderr before it logs the exit. All the
	// process wrote is in the pipe by then and takes milliseconds to log;
	// only a descendant that inherited stderr and keeps it open makes the
	// wait last, and the rest of its output is still logged afterwards.
	stderrGrace = 2 * time.Second
)

// logStderr copies a detached server process's stderr to the log, one
// record per line, until every writer has closed the pipe; the returned
// channel is closed then. It reads nothing before pid says which process
// writes (or is closed when the process did not start), so that every line
// is logged with its pid. Until the copy ends, the pipe is read to the
// end: cut short, a crash report would lose its last lines, and a writer
// could block on a full pipe.
func (sv *supervisor) logStderr(r *os.File, pid <-chan int) <-chan struct{} {
	done := make(chan struct{})
	logLine := rawLogger(sv.log)
	go func() {
		defer close(done)
		defer r.Close()
		p, ok := <-pid
		if !ok {
			return
		}
		br := bufio.NewReaderSize(r, stderrPiece)
		for {
			line, err := br.ReadSlice('\n')
			if len(line) > 0 {
				logLine(slog.LevelError, fmt.Sprintf("pid %d: %s", p, trimNewline(line)))
			}
			if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
				if !errors.Is(err, io.EOF) {
					logLine(slog.LevelError, fmt.Sprintf("pid %d: reading its stderr: %v", p, err))
				}
				return
			}
		}
	}()
	return done
}

// waitStderr waits for logStderr's copy to end after the process exited,
// at most stderrGrace.
func waitStderr(logged <-chan struct{}) {
	t := time.NewTimer(stderrGrace)
	defer t.Stop()
	select {
	case <-logged:
	case <-t.C:
	}
}

func trimNewline(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		return b[:n-1]
	}
	return b
}

// rawLogger writes a line to syslog as it is: a stack trace quoted by
// slog's text format, with every tab as \t, would be hard to read. Other
// handlers get the line as the message.
func rawLogger(l *slog.Logger) func(slog.Level, string) {
	if h, ok := l.Handler().(*syslogHandler); ok {
		return h.out.writeLine
	}
	return func(level slog.Level, line string) { l.Log(context.Background(), level, line) }
}
