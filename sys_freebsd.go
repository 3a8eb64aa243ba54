package dorrit

import "golang.org/x/sys/unix"

// totalMemory is the machine's memory in bytes, 0 when unknown.
func totalMemory() int64 {
	n, err := unix.SysctlUint64("hw.physmem")
	if err != nil {
		return 0
	}
	return int64(n)
}

// fionread is FIONREAD of <sys/filio.h>, _IOR('f', 127, int), which
// golang.org/x/sys/unix does not name for FreeBSD.
const fionread = 0x4004667f

// unreadOn is how many bytes wait unread on the socket fd.
func unreadOn(fd int) int {
	n, _ := unix.IoctlGetInt(fd, fionread)
	return n
}
