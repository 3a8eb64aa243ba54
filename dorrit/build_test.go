//go:build cgo && (linux || freebsd)

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/dorritgo/dorrit/internal/testproc"
)

// The tests run the real thing: libdorrit.a built with go build -tags
// libdorrit -buildmode=c-archive, as make libdorrit does, C servers compiled and linked with the system's C
// compiler, run as processes and spoken to over their unix socket.

func TestMain(m *testing.M) { testproc.Main(m) }

// need skips the test when the program is missing, or fails it under CI,
// which installs it (.ci/run).
func need(t testing.TB, program, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(program)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found: .ci/run installs the Debian package %s", program, pkg)
		}
		t.Skipf("%s not found: install the Debian package %s", program, pkg)
	}
	return p
}

// An archive is libdorrit.a and dorrit.h in a directory of their own.
type archive struct {
	dir  string
	race bool
	err  error
}

var (
	archiveMu sync.Mutex
	archives  = map[bool]*archive{}
)

// libdorrit builds libdorrit.a once per test binary (with -race when
// race), as make libdorrit does, with dorrit.h beside it.
func libdorrit(t testing.TB, race bool) *archive {
	t.Helper()
	need(t, "cc", "gcc")
	flags := []string{"-tags", "libdorrit", "-buildmode=c-archive"}
	if race {
		flags = append(flags, "-race")
	}
	lib := testproc.Build(t, testproc.Program{Pkg: ".", Flags: flags, Name: "libdorrit.a"})
	archiveMu.Lock()
	defer archiveMu.Unlock()
	if a := archives[race]; a != nil {
		if a.err != nil {
			t.Fatal(a.err)
		}
		return a
	}
	a := &archive{dir: filepath.Dir(lib), race: race}
	archives[race] = a
	h, err := os.ReadFile("dorrit.h")
	if err == nil {
		err = os.WriteFile(filepath.Join(a.dir, "dorrit.h"), h, 0o644)
	}
	if err != nil {
		a.err = err
		t.Fatal(err)
	}
	return a
}

// cc compiles and links the C server src against a, as a user does:
// cc src -I<dir> -L<dir> -ldorrit -lpthread, plus extra flags.
func (a *archive) cc(t testing.TB, src, out string, extra ...string) string {
	t.Helper()
	bin := filepath.Join(testproc.Dir(t), out)
	args := []string{"-Wall", "-Wextra", "-Werror", "-o", bin, src, "-I" + a.dir, "-L" + a.dir}
	if a.race {
		// The race runtime in the archive maps its shadow memory at fixed
		// addresses, which a position-independent executable may already
		// use (ThreadSanitizer: failed to allocate ... errno 12).
		args = append(args, "-no-pie")
	}
	args = append(args, extra...)
	args = append(args, "-ldorrit", "-lpthread")
	if out, err := exec.Command("cc", args...).CombinedOutput(); err != nil {
		t.Fatalf("cc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin
}

var (
	cEchoOnce, rulesOnce sync.Once
	cEchoBin, rulesBin   string
	cEchoErr, rulesErr   error
)

// once runs build the first time and gives its outcome every time. Each
// test checks for the C compiler itself, so that without one every test
// skips, not just the first.
func once(t testing.TB, o *sync.Once, bin *string, errp *error, build func(t testing.TB) string) string {
	t.Helper()
	need(t, "cc", "gcc")
	o.Do(func() {
		ok := false
		defer func() {
			if !ok && *errp == nil {
				*errp = fmt.Errorf("building failed in an earlier test")
			}
		}()
		*bin = build(t)
		ok = true
	})
	if *errp != nil {
		t.Fatal(*errp)
	}
	return *bin
}

// cEcho is dorrit/examples/echo.c linked with libdorrit.a.
func cEcho(t testing.TB) string {
	return once(t, &cEchoOnce, &cEchoBin, &cEchoErr, func(t testing.TB) string {
		return libdorrit(t, raceEnabled).cc(t, "examples/echo.c", "echo-c")
	})
}

// rules is testdata/rules.c linked with libdorrit.a.
func rules(t testing.TB) string {
	return once(t, &rulesOnce, &rulesBin, &rulesErr, func(t testing.TB) string {
		return libdorrit(t, raceEnabled).cc(t, "testdata/rules.c", "rules")
	})
}

// goEcho is examples/echo, the Go server the C one must match.
func goEcho(t testing.TB) string {
	t.Helper()
	need(t, "cc", "gcc") // as for the C servers: without a C compiler every test skips
	var flags []string
	if raceEnabled {
		flags = append(flags, "-race")
	}
	return testproc.Build(t, testproc.Program{Pkg: "../examples/echo", Flags: flags, Name: "echo-go"})
}
