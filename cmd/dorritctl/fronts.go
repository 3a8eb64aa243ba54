package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// frontNames are the process names of the front servers dorrit sits
// behind (the Debian/RHEL/FreeBSD names).
var frontNames = []string{"nginx", "haproxy", "caddy", "apache2", "httpd"}

// runningFronts finds the front server processes running here that would
// connect to a socket: those not running as root (nginx's and Apache's
// workers, not their masters), one per distinct name, credentials and
// mount namespace (two nginx instances of one user, one with a private
// /tmp, see different sockets). It reads /proc, so it finds none where
// there is no Linux /proc.
func runningFronts() []*account {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []*account
	seen := map[string]bool{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		a, name := procAccount(pid)
		if a == nil || a.uid == 0 || !slices.Contains(frontNames, name) {
			continue
		}
		mnt, _ := os.Readlink(filepath.Join("/proc", e.Name(), "ns", "mnt"))
		key := fmt.Sprint(name, a.uid, a.groups, mnt)
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, a)
	}
	return out
}

// procAccount reads a process's name and credentials from
// /proc/PID/status.
func procAccount(pid int) (*account, string) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return nil, ""
	}
	var name string
	a := &account{pid: pid}
	var haveUID, haveGID bool
	for line := range strings.Lines(string(b)) {
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		fields := strings.Fields(val)
		switch key {
		case "Name":
			name = strings.TrimSpace(val)
		case "Uid": // real, effective, saved, file system
			if len(fields) == 4 {
				a.uid, haveUID = parseID(fields[3]), true
			}
		case "Gid":
			if len(fields) == 4 {
				a.gid, haveGID = parseID(fields[3]), true
			}
		case "Groups":
			for _, f := range fields {
				a.groups = append(a.groups, parseID(f))
			}
		}
	}
	if !haveUID || !haveGID {
		return nil, ""
	}
	if !slices.Contains(a.groups, a.gid) {
		a.groups = append(a.groups, a.gid)
	}
	a.user = userName(a.uid)
	a.label = fmt.Sprintf("%s (pid %d, user %s)", name, pid, a.user)
	return a, name
}

// seesSocket checks that a running front server sees the socket where we
// do: a front server whose unit has PrivateTmp=yes (Debian's apache2 and
// caddy) has a /tmp of its own, where a socket in our /tmp does not exist.
func seesSocket(a *account, socket string) *finding {
	if a.pid == 0 {
		return nil
	}
	abs, err := filepath.Abs(socket)
	if err != nil {
		return nil
	}
	root := filepath.Join("/proc", strconv.Itoa(a.pid), "root")
	if _, err := os.Stat(root + "/"); err != nil {
		return nil // not ours to look into (not root)
	}
	if _, err := os.Lstat(root + abs); err == nil {
		return nil
	}
	f := bad("%s does not see %s: it has a file system view of its own (systemd PrivateTmp=yes gives it a private /tmp); put the socket in /run: -l /run/%s.socket",
		a.label, socket, nameOf(socket))
	return &f
}
