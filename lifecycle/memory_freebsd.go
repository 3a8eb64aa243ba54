package lifecycle

import "golang.org/x/sys/unix"

// totalMemory is the machine's memory in bytes, 0 when unknown.
func totalMemory() int64 {
	n, err := unix.SysctlUint64("hw.physmem")
	if err != nil {
		return 0
	}
	return int64(n)
}
