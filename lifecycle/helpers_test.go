package lifecycle_test

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dorritgo/dorrit/internal/testproc"
	"github.com/dorritgo/dorrit/internal/wstest"
)

// testserver is the binary the tests run: a real server process, built
// once into a directory every account may enter, since the server process
// runs as nobody and must be able to exec it.
var testserver string

func TestMain(m *testing.M) {
	if os.Getenv("ALACARTE_CHILD") != "" {
		os.Exit(m.Run()) // a child process of alacarte_test.go: it builds nothing
	}
	testproc.Main(m, testproc.Program{Bin: &testserver, Pkg: "./internal/testserver"})
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CI runs as root): this test starts a server as root and checks the privilege drop")
	}
}

// sharedDir is a temporary directory the server's account can use too.
func sharedDir(t *testing.T) string {
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o777)
	return dir
}

// proc is a started server: its supervisor process and its output lines.
type proc struct {
	*testproc.Proc
	cmd  *exec.Cmd
	done <-chan struct{}
}

var acceptingPid = regexp.MustCompile(`msg=accepting .*pid=(\d+)`)

// startForeground runs testserver -x with args and waits until it accepts.
// It returns the process and the server process's pid.
func startForeground(t *testing.T, env []string, args ...string) (*proc, int) {
	t.Helper()
	p := runServer(t, env, append([]string{"-x"}, args...)...)
	m := p.waitLine(t, acceptingPid)
	pid, _ := strconv.Atoi(m[1])
	return p, pid
}

// runServer starts testserver with args, collecting its stderr.
func runServer(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	return runServerCmd(t, exec.Command(testserver, args...), env)
}

// runServerCmd starts cmd with env added and extra descriptors from 3 on,
// in a process group of its own that is killed when the test ends (or the
// test process dies), server processes included.
func runServerCmd(t *testing.T, cmd *exec.Cmd, env []string, extra ...*os.File) *proc {
	t.Helper()
	// A server run as root in the foreground serves a control socket in
	// its PidDir: a temporary one, not /var/run.
	if !slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, "TESTSERVER_PIDDIR=") }) {
		env = append(env, "TESTSERVER_PIDDIR="+sharedDir(t))
	}
	cmd.Env = append(os.Environ(), env...)
	cmd.ExtraFiles = extra
	p := testproc.Start(t, cmd, testproc.Options{Wait: 15 * time.Second})
	return &proc{Proc: p, cmd: cmd, done: p.Done()}
}

// waitLine waits for a line matching re and returns its submatches.
func (p *proc) waitLine(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	return p.WaitLine(t, re)
}

func (p *proc) stderr() string { return p.Output() }

// stop sends SIGTERM and waits for the exit status.
func (p *proc) stop(t *testing.T) int {
	t.Helper()
	return p.Stop(t, syscall.SIGTERM, 20*time.Second)
}

// whoami asks the server over a WebSocket for its process identity.
func whoami(sock string) (string, error) {
	id, _, err := converse(sock)
	return id, err
}

// converse is whoami that also says whether the handshake succeeded.
func converse(sock string) (id string, upgraded bool, err error) {
	c, _, err := wstest.Dial(sock, &wstest.DialOptions{Timeout: 5 * time.Second})
	if err != nil {
		return "", false, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := c.WriteText([]byte("whoami")); err != nil {
		return "", true, err
	}
	_, msg, err := c.ReadMessage()
	return string(msg), true, err
}

// dialRaw connects the raw client.
func dialRaw(sock string) (*wstest.Conn, *http.Response, error) {
	return wstest.Dial(sock, &wstest.DialOptions{Timeout: 5 * time.Second})
}

// pidOf extracts pid=N from a whoami answer.
func pidOf(identity string) int {
	var pid int
	fmt.Sscanf(identity, "pid=%d", &pid)
	return pid
}

// procStatus returns the Uid: and Gid: lines of a process, fields joined by spaces.
func procStatus(t *testing.T, pid int) (uid, gid string) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "Uid:":
			uid = strings.Join(f[1:], " ")
		case "Gid:":
			gid = strings.Join(f[1:], " ")
		}
	}
	return uid, gid
}

// waitGone waits until process pid has exited (a zombie waiting for its
// reaper counts as gone). A process whose first thread has exited shows
// as a zombie while its other threads still exit, holding its files
// (socket, pidfile lock): it is gone once it has one thread left.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		// After the ")" of the name: state is field 0, num_threads 17.
		if f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:])); len(f) > 17 && f[0] == "Z" && f[17] == "1" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d still running", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitGroupGone waits until every process of process group pgid has
// exited (zombies count as gone).
func waitGroupGone(t *testing.T, pgid int) {
	t.Helper()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			if g, err := syscall.Getpgid(pid); err == nil && g == pgid {
				waitGone(t, pid)
			}
		}
	}
}

// load dials and asks whoami from 4 goroutines until stopped, counting
// refused connection attempts apart from conversations cut by a dying server
// process (those are lost in flight, which a crash may do).
type load struct {
	mu         sync.Mutex
	refused    int   // connection attempts refused
	handshakes int   // handshakes answered without 101 (503, say) or broken off
	cut        int   // conversations upgraded and then ended before their answer
	lastErr    error // of the last handshake failure or cut, for the report
	pids       map[int]int
	stop       chan struct{}
	wg         sync.WaitGroup
}

// startLoad runs clients that each converse with the server in a loop:
// dial, handshake, one message, its answer.
func startLoad(sock string, clients int) *load {
	l := &load{pids: map[int]int{}, stop: make(chan struct{})}
	for range clients {
		l.wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				id, upgraded, err := converse(sock)
				l.mu.Lock()
				switch {
				case err == nil:
					l.pids[pidOf(id)]++
				case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.EAGAIN):
					l.refused++
				case !upgraded:
					l.handshakes++
					l.lastErr = err
				default:
					l.cut++
					l.lastErr = err
				}
				l.mu.Unlock()
			}
		})
	}
	return l
}

// servedBy reports whether some answer came from a pid other than old.
func (l *load) servedBy(other func(pid int) bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for pid, n := range l.pids {
		if n > 0 && other(pid) {
			return true
		}
	}
	return false
}

func (l *load) finish() (refused, cut int, pids map[int]int) {
	close(l.stop)
	l.wg.Wait()
	return l.refused, l.cut + l.handshakes, l.pids
}

// report says what went wrong under load, for a failed test.
func (l *load) report() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprintf("%d connects refused, %d handshakes failed, %d conversations cut (last: %v); answers by pid %v",
		l.refused, l.handshakes, l.cut, l.lastErr, l.pids)
}
