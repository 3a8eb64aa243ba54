package lifecycle_test

import "golang.org/x/sys/unix"

// threadID is the calling thread's ID, as /proc/PID/task names it.
func threadID() int { return unix.Gettid() }
