package dorrit

import "golang.org/x/sys/unix"

// unreadOn is how many bytes wait unread on the socket fd.
func unreadOn(fd int) int {
	n, _ := unix.IoctlGetInt(fd, unix.SIOCINQ)
	return n
}
