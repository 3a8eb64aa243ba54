package lifecycle

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// The ready pipe. A process lifecycle starts (the daemon, a server
// process) tells the one waiting for it, on descriptor fdReady, whether it
// came up: one line, "READY", or "ERROR " and the reason. The waiting
// process returns that reason as its own error, so the user who started
// the server reads why a detached daemon did not start.
const (
	readyWord = "READY"
	errorWord = "ERROR"
)

// errNoReport is what readReport returns when the pipe closed without a
// report: the process ended (or closed the pipe) before it could say.
var errNoReport = errors.New("no report on the ready pipe")

// readyPipe is this process's end of the ready pipe, which the process
// that started it passed on as fdReady.
func readyPipe() *os.File { return os.NewFile(fdReady, "ready") }

// writeReport writes the report on w and closes it: READY for a nil err, else
// ERROR and err on one line.
func writeReport(w io.WriteCloser, err error) {
	if err == nil {
		fmt.Fprintln(w, readyWord)
	} else {
		// One line: the reader takes the first.
		fmt.Fprintln(w, errorWord, strings.ReplaceAll(err.Error(), "\n", " "))
	}
	w.Close()
}

// readReport reads the report from r: nil for READY, the reported error
// for ERROR, errNoReport when r ended without either.
func readReport(r io.Reader) error {
	line, _ := bufio.NewReader(r).ReadString('\n')
	line = strings.TrimSuffix(line, "\n")
	if line == readyWord {
		return nil
	}
	if msg, ok := strings.CutPrefix(line, errorWord+" "); ok {
		return errors.New(msg)
	}
	return errNoReport
}
