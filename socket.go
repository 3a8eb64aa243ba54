package dorrit

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"strconv"
	"syscall"
	"time"
)

// maxSocketPath is the room in sockaddr_un.sun_path, less the terminating NUL.
const maxSocketPath = len(syscall.RawSockaddrUnix{}.Path) - 1

// socketFile identifies the file a listener created, so that Close never
// unlinks a socket that a newer server has put at the same path.
type socketFile struct {
	path     string
	dev, ino uint64
}

// createSocket makes the listening socket at o.Path as the manual says: a
// stale socket file is replaced, the file gets o.SocketMode and is handed to
// o.SocketUser / o.SocketGroup.
func createSocket(o Options) (*net.UnixListener, *socketFile, error) {
	p := o.Path
	if len(p) > maxSocketPath {
		return nil, nil, fmt.Errorf("%w: socket path %q is %d bytes; a UNIX-domain socket path must be at most %d bytes",
			ErrInvalidOptions, p, len(p), maxSocketPath)
	}
	uid, gid, err := lookupOwner(o.SocketUser, o.SocketGroup)
	if err != nil {
		return nil, nil, err
	}
	if fi, err := os.Lstat(p); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, nil, fmt.Errorf("dorrit: %s exists and is not a socket; remove it or choose another path", p)
		}
		if c, err := net.DialTimeout("unix", p, time.Second); err == nil {
			c.Close()
			return nil, nil, fmt.Errorf("dorrit: another server is listening on %s; stop it first or choose another path", p)
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("dorrit: cannot remove the stale socket %s: %w", p, err)
		}
	}
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: p, Net: "unix"})
	if err != nil {
		return nil, nil, fmt.Errorf("dorrit: cannot create socket %s: %w (its directory must exist and be writable by this user; /var/run needs root)", p, err)
	}
	ul.SetUnlinkOnClose(false)
	fail := func(err error) (*net.UnixListener, *socketFile, error) {
		ul.Close()
		os.Remove(p)
		return nil, nil, err
	}
	if err := os.Chmod(p, o.SocketMode); err != nil {
		return fail(fmt.Errorf("dorrit: cannot set mode %v on %s: %w", o.SocketMode, p, err))
	}
	if uid != -1 || gid != -1 {
		if err := os.Lchown(p, uid, gid); err != nil {
			return fail(fmt.Errorf("dorrit: cannot give %s to user %q group %q: %w (changing owner needs root)", p, o.SocketUser, o.SocketGroup, err))
		}
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		return fail(fmt.Errorf("dorrit: socket %s vanished after creation: %w", p, err))
	}
	return ul, &socketFile{path: p, dev: uint64(st.Dev), ino: st.Ino}, nil
}

// remove unlinks the socket file if it is still the one we created.
func (f *socketFile) remove() {
	var st syscall.Stat_t
	if syscall.Lstat(f.path, &st) == nil && uint64(st.Dev) == f.dev && st.Ino == f.ino {
		os.Remove(f.path)
	}
}

// lookupOwner resolves user and group names or numeric IDs; -1 leaves one unchanged.
func lookupOwner(userName, groupName string) (uid, gid int, err error) {
	uid, gid = -1, -1
	if userName != "" {
		if uid, err = lookupUID(userName, "SocketUser"); err != nil {
			return -1, -1, err
		}
	}
	if groupName != "" {
		if gid, err = lookupGID(groupName, "SocketGroup"); err != nil {
			return -1, -1, err
		}
	}
	return uid, gid, nil
}

// lookupUID resolves a user name or numeric ID given in the option field.
func lookupUID(name, field string) (int, error) {
	if id, err := strconv.Atoi(name); err == nil {
		return id, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return -1, fmt.Errorf("%w: %s %q: no such user", ErrInvalidOptions, field, name)
	}
	return strconv.Atoi(u.Uid)
}

// lookupGID resolves a group name or numeric ID given in the option field.
func lookupGID(name, field string) (int, error) {
	if id, err := strconv.Atoi(name); err == nil {
		return id, nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		return -1, fmt.Errorf("%w: %s %q: no such group", ErrInvalidOptions, field, name)
	}
	return strconv.Atoi(g.Gid)
}

// adoptListener checks an inherited listener: dorrit serves stream
// UNIX-domain sockets only.
func adoptListener(l net.Listener) (*net.UnixListener, error) {
	ul, ok := l.(*net.UnixListener)
	if !ok {
		return nil, fmt.Errorf("%w: Options.Listener is a %T listening on %s %s; dorrit serves UNIX-domain stream sockets only",
			ErrInvalidOptions, l, l.Addr().Network(), l.Addr())
	}
	if n := ul.Addr().Network(); n != "unix" {
		return nil, fmt.Errorf("%w: Options.Listener is a %q socket; dorrit needs a stream socket (\"unix\")", ErrInvalidOptions, n)
	}
	ul.SetUnlinkOnClose(false)
	return ul, nil
}

// ListenSocket creates the listening socket described by o as Listen does
// (stale file replaced, mode, owner) without serving it. Package lifecycle
// uses it to create the socket as root and hand it to a less privileged
// server process, which adopts it with Options.Listener. Closing the
// returned listener removes the socket file.
func ListenSocket(o Options) (*net.UnixListener, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if o.Listener != nil {
		return nil, fmt.Errorf("%w: ListenSocket creates a socket; Options.Listener is for adopting one", ErrInvalidOptions)
	}
	ul, _, err := createSocket(o)
	if err != nil {
		return nil, err
	}
	ul.SetUnlinkOnClose(true)
	return ul, nil
}
