package lifecycle

import (
	"errors"
	"fmt"
)

// ErrUsage is matched (errors.Is) by the error Run returns for a command
// line that does not parse or a flag value outside its range.
var ErrUsage = errors.New("lifecycle: bad command line")

// AlreadyRunningError is returned when another daemon of the same name
// holds the pidfile, whatever its socket: the pidfile is named after the
// server, as the manual's rc.d scripts expect. errors.Is(err,
// ErrAlreadyRunning) reports it too.
type AlreadyRunningError struct {
	Pidfile string
	PID     int // the running instance, as its pidfile says; 0 when it does not say yet

	standalone bool // from LockPidfile: no -x nor Server.Name to suggest
}

func (e *AlreadyRunningError) Error() string {
	running := "already running"
	if e.PID != 0 {
		running += fmt.Sprintf(" as PID %d", e.PID)
	}
	if e.standalone {
		return fmt.Sprintf("%s (pidfile %s): stop it first, or give a second instance a pidfile of its own", running, e.Pidfile)
	}
	return fmt.Sprintf("%s (pidfile %s, one per server name): stop it first; "+
		"a second instance on another socket needs -x (no pidfile) or another Server.Name", running, e.Pidfile)
}

// Is makes errors.Is(err, ErrAlreadyRunning) hold.
func (e *AlreadyRunningError) Is(target error) bool { return target == ErrAlreadyRunning }
