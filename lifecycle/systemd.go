package lifecycle

import (
	"fmt"
	"net"
	"os"
	"strconv"
)

// systemd's socket activation passes listening sockets from descriptor 3 on.
const sdListenFdsStart = 3

// isSystemdSocket reports whether systemd passed this process its socket.
func isSystemdSocket() bool {
	return os.Getenv("LISTEN_PID") == strconv.Itoa(os.Getpid()) && os.Getenv("LISTEN_FDS") != ""
}

// systemdListener adopts the socket systemd passed, if it passed one.
func systemdListener() (*net.UnixListener, error) {
	ls, err := SystemdListeners()
	if err != nil || ls == nil {
		return nil, err
	}
	if len(ls) > 1 {
		for _, l := range ls {
			l.Close()
		}
		return nil, fmt.Errorf("systemd passed %d sockets; a dorrit server listens on one (ListenStream= once in the .socket unit)", len(ls))
	}
	ul, ok := ls[0].(*net.UnixListener)
	if !ok {
		ls[0].Close()
		return nil, fmt.Errorf("systemd passed a %s socket; dorrit serves UNIX-domain sockets only (ListenStream=/run/<name>.socket)", ls[0].Addr().Network())
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

// notify sends a state line to systemd when it asked for them
// (Type=notify); the supervisor has nobody to tell of a failure.
func notify(state string) { _ = Notify(state) }
