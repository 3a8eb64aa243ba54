package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// tool finds a program, also in the sbin directories a non-root PATH
// lacks, and logs its version (versionArgs, e.g. "-v"). A missing program
// skips the test, or fails it under CI=true, where .ci/run installed it.
func tool(t *testing.T, name string, versionArgs ...string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
			p := filepath.Join(dir, name)
			if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
				path = p
				break
			}
		}
	}
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed, and CI=true: .ci/run should have installed it from Debian", name)
		}
		t.Skipf("%s is not installed (.ci/run installs it from Debian)", name)
	}
	out, err := exec.Command(path, versionArgs...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", path, strings.Join(versionArgs, " "), err, out)
	}
	t.Logf("%s: %s", path, lastLine(string(out)))
	return path
}

// lastLine is the last non-empty line of s: Debian's chromium wrapper
// script may print warnings before the version.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
