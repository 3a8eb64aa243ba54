//go:build cgo && (linux || freebsd)

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDaemon starts a C server as root without -x, as rc.d does: the start
// command returns once the daemon accepts, the pidfile is
// /var/run/<name>.pid, the socket belongs to nobody with mode srwxrwx---,
// and SIGTERM to the pidfile's process stops it and removes both.
func TestDaemon(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (CI runs as root): the daemon writes /var/run/<name>.pid and drops to nobody")
	}
	// A name of its own, so that nothing else's pidfile is touched.
	name := fmt.Sprintf("libdorrit-test-%d", os.Getpid())
	bin := libdorrit(t, raceEnabled).cc(t, "testdata/rules.c", name, `-DRULES_NAME="`+name+`"`)
	pidfile := filepath.Join("/var/run", name+".pid")
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o777)
	sock := filepath.Join(dir, "s.sock")

	start := exec.Command(bin, "-l", sock)
	done := make(chan error, 1)
	var out []byte
	go func() {
		var err error
		out, err = start.CombinedOutput()
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("start: %v\n%s", err, out)
		}
	case <-time.After(30 * time.Second):
		start.Process.Kill()
		t.Fatal("the start command did not return within 30s")
	}
	b, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatalf("pidfile: %v; start said:\n%s", err, out)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pidfile holds %q", b)
	}
	t.Cleanup(func() {
		syscall.Kill(pid, syscall.SIGKILL)
		os.Remove(pidfile)
		os.Remove(filepath.Join("/var/run", name+".ctl"))
	})
	// ws_init_func ran as root on the terminal before the daemon detached.
	if !strings.Contains(string(out), "rules: init uid=0 ") {
		t.Errorf("start output has no root init line:\n%s", out)
	}

	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 65534 || fi.Mode() != os.ModeSocket|0o770 {
		t.Errorf("socket owner %d, mode %v; want nobody (65534), srwxrwx---", st.Uid, fi.Mode())
	}
	p := &proc{sock: sock}
	c := p.raw(t)
	send(t, c, "daemon echo")
	if got := message(t, c); got != "daemon echo" {
		t.Fatalf("got %q", got)
	}
	c.Close()

	syscall.Kill(pid, syscall.SIGTERM)
	for deadline := time.Now().Add(20 * time.Second); ; {
		_, errPid := os.Stat(pidfile)
		_, errSock := os.Stat(sock)
		if errors.Is(errPid, os.ErrNotExist) && errors.Is(errSock, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("20s after SIGTERM: pidfile %v, socket %v; want both removed", errPid, errSock)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
