//go:build !linux

package lifecycle_test

// threadID is unknown here: TestDropPrivileges reads /proc, Linux's.
func threadID() int { return 0 }
