package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// frontUID is an account that is not the server's: a front server's, in
// the public socket's group.
const frontUID = 4242

// A front server's account, in the public socket's group, reaches the
// public socket but not the control socket (EACCES: status 4), and may
// neither signal nor start the server: each command says to run as root,
// with status 4.
func TestServiceNotRoot(t *testing.T) {
	needRoot(t)
	s := newSvc(t, "ctltest-priv")
	if r := s.start(t); r.code != 0 {
		t.Fatalf("start:\n%v", r)
	}
	fi, err := os.Lstat(s.sock)
	if err != nil {
		t.Fatal(err)
	}
	gid := fi.Sys().(*syscall.Stat_t).Gid
	front := &syscall.Credential{Uid: frontUID, Gid: gid, Groups: []uint32{gid}}

	// The public socket: reachable through its group.
	connect := exec.Command(dorritctlBin, "connect", s.sock, "--send", "hello")
	connect.SysProcAttr = &syscall.SysProcAttr{Credential: front}
	if out, err := connect.CombinedOutput(); err != nil || string(out) != "hello\n" {
		t.Fatalf("the front server's account cannot use the public socket (%v): %s", err, out)
	}

	r := s.runAs(t, front, "status", s.name)
	if r.code != statusUnknown || !strings.Contains(r.stderr, "permission denied") || !strings.Contains(r.stderr, "run as root") {
		t.Fatalf("status as the front server's account: want 4, permission denied and run as root\n%v", r)
	}
	for _, args := range [][]string{
		{"stop", s.name},
		{"reload", s.name},
		{"restart", s.name},
		{"start", s.name, "--", testserverBin, "-l", s.sock},
	} {
		r := s.runAs(t, front, args[0], args[1:]...)
		if r.code != exitNoPermission || !strings.Contains(r.stderr, "root") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%s as the front server's account: want 4 and one line saying to run as root\n%v", args[0], r)
		}
	}
	if r := s.run(t, "status", s.name); r.code != 0 {
		t.Fatalf("the server did not survive the attempts:\n%v", r)
	}

	// A pidfile the account cannot read.
	other := newSvc(t, "ctltest-unreadable")
	os.WriteFile(filepath.Join(other.dir, other.name+".pid"), []byte(strconv.Itoa(gonePID(t))+"\n"), 0o600)
	if r := other.runAs(t, front, "status", other.name); r.code != statusUnknown || !strings.Contains(r.stderr, "permission denied") {
		t.Fatalf("status with an unreadable pidfile: want 4\n%v", r)
	}
	s.run(t, "stop", s.name)
}

// Bad command lines get status 2; a name nothing runs under, a pidfile
// left by a killed server and one holding no PID get their LSB statuses
// and one line that says what to do.
func TestServiceBadInput(t *testing.T) {
	dir := sharedDir(t)
	for _, args := range [][]string{
		{"status"},
		{"status", "a/b"},
		{"status", "a", "b"},
		{"status", "a", "--interval", "0s"},
		{"start", "a"},
		{"start", "a", "--"},
		{"start", "a", "--", "/bin/true", "-x"},
		{"stop", "a", "--timeout", "-1s"},
		{"reload"},
		{"restart", "a", "--"},
	} {
		if r := ctl("", args...); r.code != exitUsage || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("dorritctl %q: want 2 and one line\n%v", args, r)
		}
	}

	name := "ctltest-none"
	if r := ctl("", "status", name, "--piddir", dir); r.code != statusNotRunning || !strings.Contains(r.stderr, filepath.Join(dir, name+".pid")) {
		t.Errorf("status of nothing: want 3 and the pidfile looked for\n%v", r)
	}
	if r := ctl("", "reload", name, "--piddir", dir); r.code != exitNotRunning || !strings.Contains(r.stderr, "dorritctl start") {
		t.Errorf("reload of nothing: want 7 and how to start it\n%v", r)
	}
	if r := ctl("", "stop", name, "--piddir", dir); r.code != 0 {
		t.Errorf("stop of nothing: want 0, as the LSB wants\n%v", r)
	}
	want := exitNotRunning
	if os.Geteuid() != 0 {
		want = exitNoPermission
	}
	if r := ctl("", "restart", name, "--piddir", dir); r.code != want {
		t.Errorf("restart of nothing without a command line: want %d\n%v", want, r)
	}

	// A pidfile whose supervisor is gone: status 1, and stop removes it.
	pidfile := filepath.Join(dir, name+".pid")
	os.WriteFile(pidfile, []byte(strconv.Itoa(gonePID(t))+"\n"), 0o644)
	if r := ctl("", "status", name, "--piddir", dir); r.code != statusDead || !strings.Contains(r.stderr, "pidfile "+pidfile+" remains") {
		t.Errorf("status with a stale pidfile: want 1\n%v", r)
	}
	if r := ctl("", "stop", name, "--piddir", dir); r.code != 0 || !strings.Contains(r.stdout, "removed the stale pidfile") {
		t.Errorf("stop with a stale pidfile: want 0 and the pidfile removed\n%v", r)
	}
	if r := ctl("", "status", "--pidfile", pidfile, name); r.code != statusNotRunning {
		t.Errorf("status after the stale pidfile was removed: want 3\n%v", r)
	}

	// A pidfile that holds no PID, or init's, which no supervisor has
	// (and which stop must never signal).
	for _, content := range []string{"garbage", "1", "-1"} {
		os.WriteFile(pidfile, []byte(content+"\n"), 0o644)
		if r := ctl("", "status", name, "--piddir", dir); r.code != statusUnknown || !strings.Contains(r.stderr, `holds "`+content+`", not a PID`) {
			t.Errorf("status with a pidfile holding %q: want 4\n%v", content, r)
		}
		if r := ctl("", "stop", name, "--piddir", dir, "--force"); r.code != exitFailure {
			t.Errorf("stop with a pidfile holding %q: want 1\n%v", content, r)
		}
	}
}

// A start that cannot work says why: no binary (5), a flag the server
// refuses (2, its message shown), a failing Init (1), a server that is not
// named NAME (1).
func TestServiceStartErrors(t *testing.T) {
	needRoot(t)
	s := newSvc(t, "ctltest-start")
	if r := s.run(t, "start", s.name, "--", filepath.Join(s.dir, "missing")); r.code != exitNotInstalled || !strings.Contains(r.stderr, "no server binary") {
		t.Errorf("start of a missing binary: want 5\n%v", r)
	}
	if r := s.start(t, "-q"); r.code != exitUsage || !strings.Contains(r.stderr, "flag provided but not defined: -q") {
		t.Errorf("start with a bad server flag: want 2 and the server's message\n%v", r)
	}
	failing := newSvc(t, "ctltest-start", "TESTSERVER_INIT_FAIL=1")
	if r := failing.start(t); r.code != exitFailure || !strings.Contains(r.stderr, "refusing to start") || !strings.Contains(r.stderr, "did not start") {
		t.Errorf("start with a failing Init: want 1 and the server's message\n%v", r)
	}
	misnamed := newSvc(t, "ctltest-start")
	misnamed.name = "ctltest-other" // the server calls itself ctltest-start
	if r := misnamed.start(t); r.code != exitFailure || !strings.Contains(r.stderr, "is ctltest-other its name") {
		t.Errorf("start under another name than the server's: want 1 and a word about the name\n%v", r)
	}
	if r := s.run(t, "status", s.name); r.code != statusNotRunning {
		t.Errorf("a failed start left something running:\n%v", r)
	}
}

// gonePID is the PID of a process that has exited.
func gonePID(t *testing.T) int {
	t.Helper()
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	return gone.Process.Pid
}
