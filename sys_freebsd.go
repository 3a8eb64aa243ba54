package dorrit

import "golang.org/x/sys/unix"

// fionread is FIONREAD of <sys/filio.h>, _IOR('f', 127, int), which
// golang.org/x/sys/unix does not name for FreeBSD.
const fionread = 0x4004667f

// unreadOn is how many bytes wait unread on the socket fd.
func unreadOn(fd int) int {
	n, _ := unix.IoctlGetInt(fd, fionread)
	return n
}
