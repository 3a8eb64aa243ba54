package lifecycle

import (
	"fmt"
	"net"
	"os"
	"strconv"
)

// SystemdListeners adopts the listening sockets systemd passed to this
// process (socket activation: LISTEN_FDS, with LISTEN_PID this process),
// in the order of the .socket unit's Listen lines, and returns nil when
// it passed none. The variables are unset, so that a process started
// later does not take the sockets for its own. A UNIX-domain socket among
// them is the dorrit socket: give it to dorrit.Listen as
// Options.Listener; dorrit never unlinks an adopted socket's file (systemd
// owns it). An Upgrader calls it and hands the sockets out by address
// (Upgrader.Listen), so a daemon that uses one does not call it.
func SystemdListeners() ([]net.Listener, error) {
	if !isSystemdSocket() {
		return nil, nil
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n < 1 {
		return nil, fmt.Errorf("LISTEN_FDS=%q: want the number of sockets systemd passed", os.Getenv("LISTEN_FDS"))
	}
	os.Unsetenv("LISTEN_PID")
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_FDNAMES")
	ls := make([]net.Listener, 0, n)
	for fd := sdListenFdsStart; fd < sdListenFdsStart+n; fd++ {
		f := os.NewFile(uintptr(fd), "systemd socket "+strconv.Itoa(fd))
		l, err := net.FileListener(f) // a copy: f can go
		f.Close()
		if err != nil {
			for _, l := range ls {
				l.Close()
			}
			return nil, fmt.Errorf("socket %d from systemd: %w (ListenStream= passes listening stream sockets; Accept=no)", fd, err)
		}
		if ul, ok := l.(*net.UnixListener); ok {
			ul.SetUnlinkOnClose(false)
		}
		ls = append(ls, l)
	}
	return ls, nil
}
