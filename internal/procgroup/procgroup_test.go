package procgroup

import (
	"bufio"
	"errors"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Kill ends every process of the group, not only the leader, and the
// watchdog with them; Err then says how the leader ended.
func TestKillEndsTheGroup(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", `sleep 1000 & echo $!; wait`)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	g, err := Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Kill()
	sc := bufio.NewScanner(out)
	if !sc.Scan() {
		t.Fatal("no PID from the leader")
	}
	sleeper, err := strconv.Atoi(sc.Text())
	if err != nil {
		t.Fatal(err)
	}
	if pgid, err := syscall.Getpgid(sleeper); err != nil || pgid != g.Pid() {
		t.Fatalf("the leader's child is in group %d (%v), want %d", pgid, err, g.Pid())
	}
	guard := g.watch.cmd.Process.Pid

	g.Kill()
	g.Kill() // again: nothing happens
	var ee *exec.ExitError
	if err := g.Err(); !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("Err() = %v, want the leader killed by SIGKILL", err)
	}
	for _, pid := range []int{sleeper, guard} {
		if !gone(pid, 5*time.Second) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("process %d still runs after Kill", pid)
		}
	}
}

// gone waits until pid no longer runs (kill(pid, 0) fails; a zombie that
// another process must reap counts as running, so this also waits for
// init to reap an orphan).
func gone(pid int, d time.Duration) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if syscall.Kill(pid, 0) != nil {
			return true
		}
	}
	return false
}
