package dorrit

import "golang.org/x/sys/unix"

// totalMemory is the machine's memory in bytes, 0 when unknown.
func totalMemory() int64 {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return 0
	}
	return int64(si.Totalram) * int64(si.Unit)
}

// unreadOn is how many bytes wait unread on the socket fd.
func unreadOn(fd int) int {
	n, _ := unix.IoctlGetInt(fd, unix.SIOCINQ)
	return n
}

// peerOf is who connected to the socket fd, as the kernel saw it then.
func peerOf(fd int) (uid, gid uint32, pid int32, err error) {
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return 0, 0, 0, err
	}
	return cred.Uid, cred.Gid, cred.Pid, nil
}
