package peercred

import "golang.org/x/sys/unix"

// ofFD uses LOCAL_PEERCRED: the effective uid and groups, no pid.
func ofFD(fd int) (Cred, error) {
	c, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	if err != nil {
		return Cred{}, err
	}
	var gid uint32
	if c.Ngroups > 0 {
		gid = c.Groups[0]
	}
	return Cred{UID: c.Uid, GID: gid}, nil
}
