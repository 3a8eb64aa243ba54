package lifecycle_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// copyTestserver copies the test server into dir with mode perm.
func copyTestserver(t *testing.T, dir string, perm os.FileMode) string {
	t.Helper()
	b, err := os.ReadFile(testserver)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "testserver")
	if err := os.WriteFile(bin, b, perm); err != nil {
		t.Fatal(err)
	}
	return bin
}

// noDescriptorOn fails when process pid holds a descriptor on path: the
// supervisor's descriptor on the binary must end at the exec.
func noDescriptorOn(t *testing.T, pid int, path string) {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if target, _ := os.Readlink(filepath.Join(dir, e.Name())); strings.HasPrefix(target, path) {
			t.Fatalf("server process %d holds descriptor %s on its binary %s", pid, e.Name(), target)
		}
	}
}

// The binary sits in a directory only root may enter (as `go run` and
// /root/bin do): the server process still starts as nobody and serves, and
// so does the one a SIGHUP starts, and neither keeps a descriptor on the
// binary.
func TestBinaryInPrivateDirectory(t *testing.T) {
	needRoot(t)
	private := t.TempDir()
	os.Chmod(private, 0o700) // as go run's build directory
	bin := copyTestserver(t, private, 0o755)
	sock := filepath.Join(sharedDir(t), "s.sock")
	p := runServerCmd(t, exec.Command(bin, "-x", "-l", sock, "-u", "nobody"), []string{"TESTSERVER_NAME=ltest-private"})
	pid, _ := strconv.Atoi(p.waitLine(t, acceptingPid)[1])
	check := func(id string, pid int) {
		t.Helper()
		if !strings.Contains(id, "Uid: 65534 65534 65534 65534") || pidOf(id) != pid {
			t.Fatalf("the server answering says %q; want pid %d running as nobody", id, pid)
		}
		noDescriptorOn(t, pid, bin)
		// ps, pgrep, killall and the journal know a process by this name.
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/comm", pid))
		for _, task := range append(tasks, fmt.Sprintf("/proc/%d/comm", pid)) {
			if comm, _ := os.ReadFile(task); string(comm) != "testserver\n" {
				t.Fatalf("%s: server process %d is named %q, want testserver", task, pid, comm)
			}
		}
	}
	id, err := whoami(sock)
	if err != nil {
		t.Fatal(err)
	}
	check(id, pid)

	// An upgrade installs a new binary by renaming it over the old one;
	// SIGHUP must run that one. The old server drains: a conversation it
	// accepted may be cut, which the client retries, as
	// TestUpgradeRefusesNothing's clients do.
	os.Rename(copyTestserver(t, sharedDir(t), 0o755), bin)
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "an answer from a new server process after SIGHUP", func() bool {
		id, err = whoami(sock)
		return err == nil && pidOf(id) != pid
	})
	next := pidOf(id)
	check(id, next)
	running, err := os.Stat(fmt.Sprintf("/proc/%d/exe", next))
	if err != nil {
		t.Fatal(err)
	}
	if onDisk, err := os.Stat(bin); err != nil || !os.SameFile(running, onDisk) {
		t.Fatalf("after SIGHUP the server process runs another binary than the one now at %s (%v)", bin, err)
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit status %d after SIGTERM; stderr:\n%s", code, p.stderr())
	}
}

// While a SIGHUP starts the new server process, the old one still accepts
// on the same socket. Handing the socket to the new process must not turn
// it blocking for the old one: an accept that blocks in the kernel cannot
// be interrupted, and the old server would neither stop nor drain until
// a client happened to connect (and be dropped by a server on its way out).
func TestUpgradeLeavesOldServerStoppable(t *testing.T) {
	dir := sharedDir(t)
	sock, hold := filepath.Join(dir, "s.sock"), filepath.Join(dir, "hold")
	p, old := startForeground(t, []string{"TESTSERVER_NAME=ltest-hold", "TESTSERVER_HOLD=" + hold}, "-l", sock)
	if err := os.WriteFile(hold, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the new server process to start and hold", func() bool {
		_, err := os.Stat(hold + ".held")
		return err == nil
	})
	// The new process has the socket but does not accept yet: the old one
	// answers, and then waits for the next connection.
	id, err := whoami(sock)
	if err != nil || pidOf(id) != old {
		t.Fatalf("during the upgrade %q answered (%v), want the old server %d", id, err, old)
	}
	os.Remove(hold)
	p.waitLine(t, regexp.MustCompile(`msg="upgraded`))
	waitGone(t, old)
	if strings.Contains(p.stderr(), "killing it") {
		t.Fatalf("a server had to be killed:\n%s", p.stderr())
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit status %d after SIGTERM; stderr:\n%s", code, p.stderr())
	}
}
