package peercred

import "golang.org/x/sys/unix"

func ofFD(fd int) (Cred, error) {
	c, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return Cred{}, err
	}
	return Cred{UID: c.Uid, GID: c.Gid, PID: c.Pid}, nil
}
