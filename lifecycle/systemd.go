package lifecycle

import (
	"fmt"
	"net"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// systemd's socket activation passes listening sockets from descriptor 3 on.
const sdListenFdsStart = 3

// isSystemdSocket reports whether systemd passed this process its socket.
func isSystemdSocket() bool {
	return os.Getenv("LISTEN_PID") == strconv.Itoa(os.Getpid()) && os.Getenv("LISTEN_FDS") != ""
}

// systemdListener adopts the socket systemd passed, if it passed one.
func systemdListener() (*net.UnixListener, error) {
	if !isSystemdSocket() {
		return nil, nil
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n < 1 {
		return nil, fmt.Errorf("LISTEN_FDS=%q: want the number of sockets systemd passed", os.Getenv("LISTEN_FDS"))
	}
	if n > 1 {
		return nil, fmt.Errorf("systemd passed %d sockets; a dorrit server listens on one (ListenStream= once in the .socket unit)", n)
	}
	os.Unsetenv("LISTEN_PID")
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_FDNAMES")
	l, err := net.FileListener(os.NewFile(sdListenFdsStart, "systemd"))
	if err != nil {
		return nil, fmt.Errorf("socket from systemd: %w", err)
	}
	ul, ok := l.(*net.UnixListener)
	if !ok {
		l.Close()
		return nil, fmt.Errorf("systemd passed a %s socket; dorrit serves UNIX-domain sockets only (ListenStream=/run/<name>.socket)", l.Addr().Network())
	}
	return ul, nil
}

// underSystemd reports whether systemd started this process: it passed a
// socket or asked for notifications.
func underSystemd() bool {
	return os.Getenv("NOTIFY_SOCKET") != "" || os.Getenv("LISTEN_FDS") != ""
}

// stayForSystemd keeps a server that systemd started in the foreground
// whatever the flags say. Detached, READY=1 and the rest would come from a
// process that is not the service's main PID, which systemd drops by
// default (NotifyAccess=main), and it would take the stop of the start
// process for the end of the service.
func stayForSystemd(s *Server, cfg *Config) {
	if cfg.Foreground || !underSystemd() {
		return
	}
	cfg.Foreground = true
	fmt.Fprintf(os.Stderr, "%s: started by systemd (NOTIFY_SOCKET or LISTEN_FDS set): staying in the foreground as with -x, without pidfile, logging to stderr (the journal)\n", s.Name)
}

// notify sends a state line to systemd when it asked for them (Type=notify).
func notify(state string) {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return
	}
	if state == "RELOADING=1" {
		// Type=notify-reload requires the time of the reload with it; added
		// here, it is never forgotten by a caller.
		var ts unix.Timespec
		unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
		state += "\nMONOTONIC_USEC=" + strconv.FormatInt(ts.Nano()/1000, 10)
	}
	if addr[0] == '@' {
		addr = "\x00" + addr[1:] // abstract namespace
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return
	}
	defer c.Close()
	c.Write([]byte(state))
}
