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
		pkg := debianPackages[name]
		if pkg == "" {
			pkg = name
		}
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed, and CI=true: .ci/run should have installed it (Debian package %s)", name, pkg)
		}
		t.Skipf("%s is not installed: apt-get install %s (.ci/run does)", name, pkg)
	}
	out, err := exec.Command(path, versionArgs...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", path, strings.Join(versionArgs, " "), err, out)
	}
	t.Logf("%s: %s", path, versionLine(string(out)))
	return path
}

// debianPackages names the package of each program whose package is
// named otherwise.
var debianPackages = map[string]string{"nginx": "nginx-light", "prlimit": "util-linux"}

// versionLine is the first line of s that names a version (haproxy -v
// and apache2 -v print more lines after it), or else the last non-empty
// line: Debian's chromium wrapper script may print warnings before its
// version.
func versionLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for _, l := range lines {
		if strings.Contains(strings.ToLower(l), "version") {
			return strings.TrimSpace(l)
		}
	}
	return strings.TrimSpace(lines[len(lines)-1])
}
