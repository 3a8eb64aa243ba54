package lifecycle

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// Both ways of marking inherited descriptors close-on-exec mark them.
func TestInheritedMarkedCloseOnExec(t *testing.T) {
	for name, mark := range map[string]func(){"close_range": closeInheritedOnExec, "one by one": markOpenOnExec} {
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(os.DevNull)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			fd, err := unix.Dup(int(f.Fd())) // no close-on-exec, as an inherited one
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			if flags, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); flags&unix.FD_CLOEXEC != 0 {
				t.Fatal("dup set close-on-exec")
			}
			mark()
			if flags, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); flags&unix.FD_CLOEXEC == 0 {
				t.Fatalf("descriptor %d not marked close-on-exec", fd)
			}
		})
	}
}
