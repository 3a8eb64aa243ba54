// Package testproc runs the programs a test needs as real processes: it
// builds each Go program once per test binary (Main, Build), starts a
// process in a process group of its own (Start), collects its output,
// waits for the line that says it is ready (WaitLine), and kills its whole
// group when the test ends, or when the test process dies without running
// its cleanups (go test killed, a -timeout panic): see package procgroup.
//
// A package whose tests use it has
//
//	func TestMain(m *testing.M) {
//		testproc.Main(m, testproc.Program{Bin: &echoBin, Pkg: "./examples/echo", Dir: ".."})
//	}
package testproc

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// A Program is a Go main package to build, and where to put its path.
type Program struct {
	Bin   *string  // set to the built file's path (for Main)
	Dir   string   // where go build runs: the module it builds in; "" is the test's package directory
	Pkg   string   // the package as go build takes it: ".", "./cmd/dorritctl", an import path
	Flags []string // more go build flags: -tags libdorrit, -race, -buildmode=c-archive
	Name  string   // the file's name; default the package's last path element
}

func (p Program) name() string {
	if p.Name != "" {
		return p.Name
	}
	pkg := p.Pkg
	if pkg == "." || pkg == "" {
		pkg, _ = filepath.Abs(p.Dir)
	}
	return filepath.Base(pkg)
}

func (p Program) key() string {
	return strings.Join(append([]string{p.Dir, p.Pkg, p.name()}, p.Flags...), "\x00")
}

var (
	mu     sync.Mutex
	dir    string                // every file Main's tests build; "" before Main
	builds = map[string]*build{} // by Program.key
)

type build struct {
	n    int // its directory under dir
	once sync.Once
	path string
	err  error
}

// Main builds programs, runs the tests and removes what was built; it
// calls os.Exit. A build that fails stops it before any test runs, with
// go build's output.
func Main(m *testing.M, programs ...Program) {
	os.Exit(run(m, programs))
}

func run(m *testing.M, programs []Program) int {
	d, err := os.MkdirTemp("", "testproc")
	if err != nil {
		fmt.Fprintln(os.Stderr, "testproc:", err)
		return 1
	}
	defer os.RemoveAll(d)
	// A server started as root runs as nobody, and must be able to
	// execute its binary.
	if err := os.Chmod(d, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "testproc:", err)
		return 1
	}
	mu.Lock()
	dir = d
	mu.Unlock()
	for _, p := range programs {
		path, err := buildOnce(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if p.Bin != nil {
			*p.Bin = path
		}
	}
	return m.Run()
}

// Dir is a directory for what the tests build, which every account may
// enter and which Main removes at the end.
func Dir(t testing.TB) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if dir == "" {
		t.Fatal("testproc: call testproc.Main from the package's TestMain")
	}
	return dir
}

// Build builds p once per test binary, when a test first needs it, and
// returns the file's path; p.Bin is not used.
func Build(t testing.TB, p Program) string {
	t.Helper()
	Dir(t)
	path, err := buildOnce(p)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func buildOnce(p Program) (string, error) {
	mu.Lock()
	b := builds[p.key()]
	if b == nil {
		b = &build{n: len(builds)}
		builds[p.key()] = b
	}
	d := dir
	mu.Unlock()
	b.once.Do(func() {
		// A directory per build keeps the file's own name, which its
		// messages show (usage: echo …), when two builds share it.
		sub := filepath.Join(d, fmt.Sprint(b.n))
		if b.err = os.Mkdir(sub, 0o755); b.err != nil {
			return
		}
		b.path = filepath.Join(sub, p.name())
		args := append([]string{"build", "-o", b.path}, p.Flags...)
		args = append(args, p.Pkg)
		// go test puts its own go first in PATH: the go running the tests.
		cmd := exec.Command("go", args...)
		cmd.Dir = p.Dir
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("testproc: go %s (in %s): %v\n%s", strings.Join(args, " "), cmd.Dir, err, out)
		}
	})
	return b.path, b.err
}
