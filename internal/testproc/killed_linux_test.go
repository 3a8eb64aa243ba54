package testproc

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// holdEnv makes this test binary, run again by TestKilledTestLeavesNoChild,
// the test that is killed.
const holdEnv = "TESTPROC_HOLD_CHILDREN"

// TestHoldChildren starts a process that has a child of its own in its
// group (as nginx's master has its workers), says the group's ID and
// waits to be killed.
func TestHoldChildren(t *testing.T) {
	if os.Getenv(holdEnv) == "" {
		t.Skip("run by TestKilledTestLeavesNoChild")
	}
	p := Start(t, exec.Command("/bin/sh", "-c", "sleep 1000 & echo ready; wait"), Options{})
	p.WaitLine(t, regexp.MustCompile(`^ready$`))
	// A daemon: a session of its own, which no group kill of ours reaches.
	daemon := exec.Command("/bin/sh", "-c", "sleep 1000 & wait")
	daemon.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	go daemon.Wait()
	Tie(t, daemon.Process.Pid)
	fmt.Printf("group %d daemon %d\n", p.Pid(), daemon.Process.Pid)
	time.Sleep(time.Hour)
}

// A test process killed with SIGKILL mid-test, which runs no cleanup,
// leaves none of its children behind: neither the process it started nor
// that process's own children, nor a daemon it tied, nor the watchdogs.
func TestKilledTestLeavesNoChild(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	test := exec.Command(self, "-test.run=^TestHoldChildren$", "-test.v")
	test.Env = append(os.Environ(), holdEnv+"=1")
	out, err := test.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := test.Start(); err != nil {
		t.Fatal(err)
	}
	defer test.Process.Kill()
	pgid, daemon := 0, 0
	sc := bufio.NewScanner(out)
	for pgid == 0 && sc.Scan() {
		fmt.Sscanf(sc.Text(), "group %d daemon %d", &pgid, &daemon)
	}
	if pgid == 0 || daemon == 0 {
		test.Wait()
		t.Fatalf("the killed test did not start its processes (%v)", test.ProcessState)
	}
	for _, g := range []int{pgid, daemon} {
		if n := len(alive(g)); n != 2 {
			t.Fatalf("want a process and its own child in group %d, found %d processes", g, n)
		}
	}

	test.Process.Signal(syscall.SIGKILL)
	test.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var left []int
		for _, g := range []int{pgid, daemon} {
			left = append(append(left, alive(g)...), watchdogs(g)...)
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, pid := range left {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			t.Fatalf("10 s after the test process was killed, processes %v of its are still running", left)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive lists the processes of group pgid that have not exited (a zombie
// waiting for its reaper has).
func alive(pgid int) []int {
	var pids []int
	forEachProcess(func(pid int, stat string, _ []byte) {
		// After the ")" of the name: state, ppid, pgrp.
		f := strings.Fields(stat[strings.LastIndexByte(stat, ')')+1:])
		if len(f) > 2 && f[0] != "Z" && f[2] == strconv.Itoa(pgid) {
			pids = append(pids, pid)
		}
	})
	return pids
}

// watchdogs lists the running watchdogs of group pgid.
func watchdogs(pgid int) []int {
	var pids []int
	want := []byte("\x00" + strconv.Itoa(pgid) + "\x00")
	forEachProcess(func(pid int, stat string, cmdline []byte) {
		if !strings.Contains(stat, " Z ") && bytes.Contains(cmdline, []byte("read _")) && bytes.HasSuffix(append([]byte{0}, cmdline...), want) {
			pids = append(pids, pid)
		}
	})
	return pids
}

func forEachProcess(fn func(pid int, stat string, cmdline []byte)) {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		fn(pid, string(stat), cmdline)
	}
}
