package lifecycle

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// executable is the program's binary, opened by the process that starts a
// server process.
//
// The supervisor stays root while the server process runs as -u/-g.
// Executed by its path, the binary would have to be reachable by that
// account through every directory above it, which `go run` (a 0700 build
// directory) and /root/bin are not. So the supervisor opens the binary and
// executes the open file through /proc/self/fd/N, as fexecve(3) does; the
// account then needs execute permission on the file alone. The descriptor
// is close-on-exec, and still works: execve opens the file it is given
// before it closes those descriptors, so the new program starts and never
// holds its own binary open.
type executable struct {
	path string
	f    *os.File // nil: executed by path
}

// openExecutable opens path for one start. It never fails: where the file
// cannot be executed through a descriptor it is executed by path, as
// before, and that start reports what is wrong.
func openExecutable(path string) *executable {
	e := &executable{path: path}
	f, err := os.Open(path) // close-on-exec, as every descriptor Go opens
	if err != nil {
		return e // execute-only for this account: starting it by path is what worked so far
	}
	// A script's interpreter gets the name the script was executed by and
	// opens it again, when exec has already closed the descriptor that
	// /proc/self/fd/N named. A script needs a path its account can reach.
	head := make([]byte, 2)
	if n, _ := f.ReadAt(head, 0); n == 2 && string(head) == "#!" {
		f.Close()
		return e
	}
	e.f = f
	return e
}

func (e *executable) close() {
	if e.f != nil {
		e.f.Close()
	}
}

// start starts cmd, whose Args and ExtraFiles are set, running the
// executable. cmd.Path is set here.
func (e *executable) start(cmd *exec.Cmd) error {
	cmd.Path = e.path
	// Between fork and exec, Go writes the descriptors it passes onto 0 up
	// to their count, and moves any that are in the way above the highest
	// one it passes (syscall.forkAndExecInChild). A descriptor it does not
	// know of survives only in between: at or above the count, below a
	// passed descriptor. So the binary's descriptor goes there, and the last
	// extra file is passed from a copy above it; without an extra file
	// there is no such place, and the binary is executed by path.
	if e.f == nil || len(cmd.ExtraFiles) == 0 {
		return cmd.Start()
	}
	n := 3 + len(cmd.ExtraFiles)
	fd, err := unix.FcntlInt(e.f.Fd(), unix.F_DUPFD_CLOEXEC, n)
	if err != nil {
		return err
	}
	exe := os.NewFile(uintptr(fd), e.path)
	defer exe.Close()
	last := cmd.ExtraFiles[len(cmd.ExtraFiles)-1]
	hfd, err := unix.FcntlInt(last.Fd(), unix.F_DUPFD_CLOEXEC, fd+1)
	if err != nil {
		return err
	}
	high := os.NewFile(uintptr(hfd), last.Name())
	defer high.Close()
	extra := cmd.ExtraFiles
	cmd.ExtraFiles = append(extra[:len(extra)-1:len(extra)-1], high)
	defer func() { cmd.ExtraFiles = extra }()

	// Without /proc (a chroot, some containers) there is no name for the
	// descriptor: by path, as before.
	proc := "/proc/self/fd/" + strconv.Itoa(fd)
	if sameFile(proc, exe) {
		cmd.Path = proc
	}
	return cmd.Start()
}

func sameFile(path string, f *os.File) bool {
	a, err := os.Stat(path)
	if err != nil {
		return false
	}
	b, err := f.Stat()
	return err == nil && os.SameFile(a, b)
}

// restoreName gives a server process its program's name back. Executed
// through /proc/self/fd/N, it is named "N" by the kernel (the last element
// of the path it was executed by), and that name is what ps -C, pgrep,
// killall and the journal go by. Every thread is renamed, since a thread
// takes its name from the one that creates it.
func restoreName() {
	path, err := os.Executable()
	if err != nil {
		return
	}
	name := filepath.Base(path)
	if len(name) > 15 { // the kernel keeps 15 bytes
		name = name[:15]
	}
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, t := range tasks {
		if f, err := os.OpenFile("/proc/self/task/"+t.Name()+"/comm", os.O_WRONLY, 0); err == nil {
			f.WriteString(name)
			f.Close()
		}
	}
}

// listenerFile is a copy of ul's descriptor to pass to another process.
func listenerFile(ul *net.UnixListener) (*os.File, error) { return dupListener(ul) }

// dupListener is a copy of l's descriptor to pass to another process.
// Unlike File(), whose Fd (called by os/exec for every extra file) turns
// the socket blocking, it leaves the socket's mode alone. The mode belongs
// to the socket, not to a descriptor, so it is shared with every process
// holding it: during an upgrade the old server, still accepting, would be
// left in an accept the kernel does not interrupt, unable to stop.
func dupListener(l net.Listener) (*os.File, error) {
	sc, ok := l.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("a %T has no descriptor to pass on", l)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd := -1
	cerr := rc.Control(func(s uintptr) {
		fd, err = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	})
	if cerr != nil {
		return nil, cerr
	}
	if err != nil {
		return nil, fmt.Errorf("cannot copy the socket's descriptor: %w", err)
	}
	return os.NewFile(uintptr(fd), l.Addr().String()), nil
}
