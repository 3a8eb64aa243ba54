package lifecycle

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Notify sends state to systemd, as sd_notify(3) does, when systemd asked
// for notifications (NOTIFY_SOCKET is set; without it Notify does nothing
// and returns nil). state is one or more lines such as:
//
//	READY=1        start-up done (Type=notify)
//	RELOADING=1    an upgrade or reload begins; READY=1 ends it
//	STOPPING=1     the graceful stop begins
//	STATUS=text    a line systemctl status shows
//	WATCHDOG=1     alive, every half of WatchdogInterval
//	MAINPID=pid    another process is now the service's main process
//
// A RELOADING=1 line gets the MONOTONIC_USEC= line that
// Type=notify-reload requires added. Notifications from a process other
// than the service's main one are dropped by systemd unless the unit says
// NotifyAccess=all; an Upgrader hands the main PID over by itself.
func Notify(state string) error {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return nil
	}
	if strings.Contains("\n"+state+"\n", "\nRELOADING=1\n") && !strings.Contains(state, "MONOTONIC_USEC=") {
		var ts unix.Timespec
		unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
		state += "\nMONOTONIC_USEC=" + strconv.FormatInt(ts.Nano()/1000, 10)
	}
	if addr[0] == '@' {
		addr = "\x00" + addr[1:] // abstract namespace
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("systemd notification socket %s: %w", os.Getenv("NOTIFY_SOCKET"), err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("systemd notification socket %s: %w", os.Getenv("NOTIFY_SOCKET"), err)
	}
	return nil
}

// WatchdogInterval is the unit's WatchdogSec= when systemd expects this
// process to send WATCHDOG=1 (WATCHDOG_USEC set, WATCHDOG_PID absent or
// this process), else 0. Send it every half interval.
func WatchdogInterval() time.Duration { return watchdogInterval() }
