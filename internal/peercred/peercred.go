// Package peercred asks the kernel who is at the other end of a
// UNIX-domain socket: the credentials the connecting process had when it
// connected. The root package checks them against Options.PeerUsers and
// PeerGroups, lifecycle's control socket against its owner.
package peercred

import "syscall"

// Cred is the connecting process's effective uid and gid, and its pid
// where the system tells it (0 otherwise).
type Cred struct {
	UID, GID uint32
	PID      int32
}

// Of returns the credentials of the peer of c.
func Of(c syscall.Conn) (Cred, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return Cred{}, err
	}
	var cred Cred
	if cerr := rc.Control(func(fd uintptr) { cred, err = ofFD(int(fd)) }); cerr != nil {
		return Cred{}, cerr
	}
	return cred, err
}
