package lifecycle

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// runExecutable runs path through openExecutable and start, as the
// supervisor runs a server process (as nobody when the test runs as root),
// with extra files on descriptors 3 and up, and returns its output.
func runExecutable(t *testing.T, path string, extra []*os.File, args ...string) string {
	t.Helper()
	e := openExecutable(path)
	defer e.close()
	var out bytes.Buffer
	cmd := &exec.Cmd{Args: append([]string{path}, args...), Stdout: &out, Stderr: &out, ExtraFiles: extra}
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
	}
	if err := e.start(cmd); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%s: %v; output:\n%s", path, err, &out)
	}
	return out.String()
}

// A binary in a directory the server's account cannot enter runs from the
// supervisor's descriptor, which ends at the exec: the new program holds
// its extra files on 3 and up and nothing on the binary.
func TestExecutableByDescriptor(t *testing.T) {
	ls, err := exec.LookPath("ls")
	if err != nil {
		t.Skip("no ls to run")
	}
	b, err := os.ReadFile(ls)
	if err != nil {
		t.Fatal(err)
	}
	private := t.TempDir()
	os.Chmod(private, 0o700)
	bin := filepath.Join(private, "ls")
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	var extra []*os.File
	for range 3 {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		extra = append(extra, f)
	}
	out := runExecutable(t, bin, extra, "-l", "/proc/self/fd/")
	if strings.Contains(out, bin) {
		t.Fatalf("the program holds a descriptor on its binary:\n%s", out)
	}
	for _, fd := range []string{" 3 -> /dev/null", " 4 -> /dev/null", " 5 -> /dev/null"} {
		if !strings.Contains(out, fd) {
			t.Fatalf("extra file%s missing:\n%s", fd, out)
		}
	}
}

// A script is executed by its path: its interpreter opens the name it is
// given, and /proc/self/fd/N names nothing once exec has closed the
// close-on-exec descriptor.
func TestExecutableScript(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o755)
	script := filepath.Join(dir, "script")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"script ran with $1\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	if out := runExecutable(t, script, []*os.File{devnull}, "hello"); out != "script ran with hello\n" {
		t.Fatalf("script said %q", out)
	}
}
