// Package unixsocket creates the listening UNIX-domain socket of a dorrit
// server as the libdorrit manual says: a stale socket file is replaced, the
// file gets its mode and owner. The root package serves on it; package
// lifecycle creates it as root and hands it to the server's account.
package unixsocket

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/dorritgo/dorrit/internal/account"
)

// MaxPath is the room in sockaddr_un.sun_path, less the terminating NUL.
const MaxPath = len(syscall.RawSockaddrUnix{}.Path) - 1

// DefaultPath is the socket path the manual gives a server named name:
// /var/run/<name>.socket, or /var/run/dorrit.socket when name is empty.
func DefaultPath(name string) string {
	if name == "" {
		name = "dorrit"
	}
	return "/var/run/" + name + ".socket"
}

// Spec describes the socket to create.
type Spec struct {
	Path        string
	Mode        os.FileMode
	User, Group string // names or numeric IDs; empty leaves the creator's
}

// A ConfigError is a Spec that cannot be created as given (a path too long,
// a user or group that does not exist): the caller's configuration is wrong.
type ConfigError struct{ Msg string }

func (e *ConfigError) Error() string { return e.Msg }

// File identifies the file a listener created, so that removing it never
// unlinks a socket that a newer server has put at the same path.
type File struct {
	path     string
	dev, ino uint64
}

// Create makes the listening socket s describes. The returned listener does
// not unlink the file when closed; File.Remove does, if the file is still
// the one created here.
func Create(s Spec) (*net.UnixListener, *File, error) {
	p := s.Path
	if len(p) > MaxPath {
		return nil, nil, &ConfigError{fmt.Sprintf("socket path %q is %d bytes; a UNIX-domain socket path must be at most %d bytes", p, len(p), MaxPath)}
	}
	uid, gid, err := lookupOwner(s.User, s.Group)
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
	fail := func(err error) (*net.UnixListener, *File, error) {
		ul.Close()
		os.Remove(p)
		return nil, nil, err
	}
	if err := os.Chmod(p, s.Mode); err != nil {
		return fail(fmt.Errorf("dorrit: cannot set mode %v on %s: %w", s.Mode, p, err))
	}
	if uid != -1 || gid != -1 {
		if err := os.Lchown(p, uid, gid); err != nil {
			return fail(fmt.Errorf("dorrit: cannot give %s to user %q group %q: %w (changing owner needs root)", p, s.User, s.Group, err))
		}
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		return fail(fmt.Errorf("dorrit: socket %s vanished after creation: %w", p, err))
	}
	return ul, &File{path: p, dev: uint64(st.Dev), ino: st.Ino}, nil
}

// Listen is Create for a socket handed on to another process: closing the
// returned listener removes the file.
func Listen(s Spec) (*net.UnixListener, error) {
	ul, _, err := Create(s)
	if err != nil {
		return nil, err
	}
	ul.SetUnlinkOnClose(true)
	return ul, nil
}

// Identify names the socket file now at path, for a listener that did not
// create it (one inherited from another process) but must remove it at
// the end; nil when there is none.
func Identify(path string) *File {
	var st syscall.Stat_t
	if syscall.Lstat(path, &st) != nil {
		return nil
	}
	return &File{path: path, dev: uint64(st.Dev), ino: st.Ino}
}

// Remove unlinks the socket file if it is still the one Create made.
func (f *File) Remove() {
	var st syscall.Stat_t
	if syscall.Lstat(f.path, &st) == nil && uint64(st.Dev) == f.dev && st.Ino == f.ino {
		os.Remove(f.path)
	}
}

// lookupOwner resolves user and group names or numeric IDs; -1 leaves one unchanged.
func lookupOwner(userName, groupName string) (uid, gid int, err error) {
	uid, gid = -1, -1
	if userName != "" {
		if uid, err = LookupUID(userName, "SocketUser"); err != nil {
			return -1, -1, err
		}
	}
	if groupName != "" {
		if gid, err = LookupGID(groupName, "SocketGroup"); err != nil {
			return -1, -1, err
		}
	}
	return uid, gid, nil
}

// LookupUID resolves a user name or numeric ID given in the option field,
// in package account's order.
func LookupUID(name, field string) (int, error) {
	id, err := account.UID(name)
	if err != nil {
		return -1, &ConfigError{fmt.Sprintf("%s %q: no such user", field, name)}
	}
	return int(id), nil
}

// LookupGID resolves a group name or numeric ID given in the option field,
// in package account's order.
func LookupGID(name, field string) (int, error) {
	id, err := account.GID(name)
	if err != nil {
		return -1, &ConfigError{fmt.Sprintf("%s %q: no such group", field, name)}
	}
	return int(id), nil
}
