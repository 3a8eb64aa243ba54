package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"

	accounts "github.com/dorritgo/dorrit/internal/account"
)

// An account is who connects to a socket: a user looked up by name (--as)
// or a running front server process, whose groups are those it started
// with.
type account struct {
	label  string   // for messages: "www-data", "nginx (pid 812, user www-data)"
	user   string   // user name, or the uid in decimal
	uid    uint32   // effective (file system) uid
	gid    uint32   // primary group
	groups []uint32 // all groups, the primary one included
	pid    int      // a running process; 0 for --as
}

// lookupAccount resolves a user name or numeric uid (package account's
// order) with its groups from the system's databases.
func lookupAccount(name string) (*account, error) {
	u, err := accounts.User(name)
	if err != nil {
		return nil, fmt.Errorf("unknown user %q: name the account your front server runs as (ps -o user= -C nginx)", name)
	}
	a := &account{label: u.Username, user: u.Username}
	a.uid = parseID(u.Uid)
	a.gid = parseID(u.Gid)
	a.groups = []uint32{a.gid}
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if g := parseID(id); !slices.Contains(a.groups, g) {
				a.groups = append(a.groups, g)
			}
		}
	}
	return a, nil
}

// parseID reads a decimal uid or gid, as /proc and the databases write them.
func parseID(s string) uint32 {
	n, _ := strconv.ParseUint(s, 10, 32)
	return uint32(n)
}

func (a *account) inGroup(gid uint32) bool { return slices.Contains(a.groups, gid) }

// may reports whether a has the permission bits want (1 search/execute,
// 2 write) on a file with this owner and mode, as the kernel decides it:
// the owner's bits for the owner, else the group's for a member, else the
// others'. ACLs are not read.
func (a *account) may(st *syscall.Stat_t, want uint32) bool {
	if a.uid == 0 {
		return true
	}
	mode := uint32(st.Mode) & 0o777
	switch {
	case st.Uid == a.uid:
		return (mode>>6)&want == want
	case a.inGroup(st.Gid):
		return (mode>>3)&want == want
	default:
		return mode&want == want
	}
}

// bitsFix is the chmod that gives a the missing bits want ("x" or "w") on path.
func (a *account) bitsFix(st *syscall.Stat_t, bit, path string) string {
	who := "o"
	switch {
	case st.Uid == a.uid:
		who = "u"
	case a.inGroup(st.Gid):
		who = "g"
	}
	return fmt.Sprintf("chmod %s+%s %s", who, bit, path)
}

// dirsOnTheWay lists every directory a connect to socket passes through:
// those of the path as written and, when symbolic links are on the way,
// those of the path they lead to.
func dirsOnTheWay(socket string) []string {
	abs, err := filepath.Abs(socket)
	if err != nil {
		abs = socket
	}
	var dirs []string
	add := func(p string) {
		for d := filepath.Dir(p); ; d = filepath.Dir(d) {
			if !slices.Contains(dirs, d) {
				dirs = append(dirs, d)
			}
			if d == "/" || d == "." {
				break
			}
		}
	}
	add(abs)
	if real, err := filepath.EvalSymlinks(abs); err == nil && real != abs {
		add(real)
	}
	slices.Sort(dirs) // parents first
	return dirs
}

// reach checks that a can connect to socket: search permission on every
// directory on the way and write permission on the socket. Each problem is
// one finding with its fix; no problem is one ok finding.
func reach(a *account, socket string, sockSt *syscall.Stat_t) []finding {
	var out []finding
	for _, d := range dirsOnTheWay(socket) {
		var st syscall.Stat_t
		if err := syscall.Stat(d, &st); err != nil {
			continue // a missing directory shows up as a missing socket
		}
		if !a.may(&st, 1) {
			out = append(out, bad("%s cannot enter %s (%s): %s, or put the socket where every account may pass, e.g. -l /run/%s.socket",
				a.label, d, describeFile(&st), a.bitsFix(&st, "x", d), nameOf(socket)))
		}
	}
	if !a.may(sockSt, 2) {
		out = append(out, bad("%s cannot connect to %s (%s): %s", a.label, socket, describeFile(sockSt), socketFix(a, sockSt, socket)))
	}
	if len(out) == 0 {
		out = append(out, good("%s can reach %s (every directory on the way, and write permission on the socket)", a.label, socket))
	}
	return out
}

// socketFix says how to give a write permission on the socket. The server
// sets mode 0770 itself, so the usual fix is the socket's group: -g with the
// front server's group.
func socketFix(a *account, st *syscall.Stat_t, socket string) string {
	switch {
	case st.Uid == a.uid, a.inGroup(st.Gid):
		return fmt.Sprintf("%s (dorrit creates it srwxrwx---; was its mode changed?)", a.bitsFix(st, "w", socket))
	}
	sockGroup := groupName(st.Gid)
	fix := fmt.Sprintf("start the server with -g %s (%s's group), which gives the socket to that group", groupName(a.gid), a.user)
	if a.pid != 0 && userInGroup(a.user, st.Gid) {
		return fmt.Sprintf("%s is in group %s now, but this process started before it joined: restart the front server; or %s", a.user, sockGroup, fix)
	}
	if st.Gid == 0 {
		// Group 0 (root, or wheel on FreeBSD) shares root's files with
		// its members: joining it is never the fix for one socket.
		return fix
	}
	return fmt.Sprintf("%s, or add %s to group %s (usermod -aG %s %s) and restart the front server", fix, a.user, sockGroup, sockGroup, a.user)
}

// userInGroup reports whether the group database lists name in gid.
func userInGroup(name string, gid uint32) bool {
	u, err := accounts.User(name)
	if err != nil {
		return false
	}
	ids, err := u.GroupIds()
	return err == nil && slices.Contains(ids, strconv.FormatUint(uint64(gid), 10))
}

func userName(uid uint32) string  { return accounts.UserName(uid) }
func groupName(gid uint32) string { return accounts.GroupName(gid) }

// describeFile is "owner root, group root, drwx------", as ls writes the mode.
func describeFile(st *syscall.Stat_t) string {
	kind := "-"
	switch uint32(st.Mode) & syscall.S_IFMT {
	case syscall.S_IFDIR:
		kind = "d"
	case syscall.S_IFSOCK:
		kind = "s"
	case syscall.S_IFLNK:
		kind = "l"
	}
	perm := fs.FileMode(st.Mode & 0o777).String()[1:]
	return fmt.Sprintf("owner %s, group %s, %s%s", userName(st.Uid), groupName(st.Gid), kind, perm)
}

// statSocket is Stat with the raw fields, following symbolic links as
// connect does.
func statSocket(path string) (*syscall.Stat_t, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return nil, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	return &st, nil
}
