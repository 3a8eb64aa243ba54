//go:build !linux

package procgroup

import "syscall"

// setParentDeathSignal does nothing: Go's SysProcAttr has Pdeathsig on
// Linux only, and the watchdog alone ties the group elsewhere.
func setParentDeathSignal(*syscall.SysProcAttr) {}
