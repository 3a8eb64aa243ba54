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

// notify sends a state line to systemd when it asked for them (Type=notify).
func notify(state string) {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return
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
