package lifecycle

import (
	"errors"
	"fmt"
)

// ErrUsage is matched (errors.Is) by the error Run returns for a command
// line that does not parse or a flag value outside its range.
var ErrUsage = errors.New("lifecycle: bad command line")

// AlreadyRunningError is returned when another instance of the server holds
// its pidfile. errors.Is(err, ErrAlreadyRunning) reports it too.
type AlreadyRunningError struct {
	Pidfile string
	PID     int // the running instance, as its pidfile says; 0 when it does not say yet
}

func (e *AlreadyRunningError) Error() string {
	if e.PID == 0 {
		return fmt.Sprintf("already running (pidfile %s is locked)", e.Pidfile)
	}
	return fmt.Sprintf("already running as PID %d (pidfile %s)", e.PID, e.Pidfile)
}

// Is makes errors.Is(err, ErrAlreadyRunning) hold.
func (e *AlreadyRunningError) Is(target error) bool { return target == ErrAlreadyRunning }
