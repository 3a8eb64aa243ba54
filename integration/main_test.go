package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Binaries the tests run as real processes, built once into a directory
// every account may enter: a server started as root runs as nobody and
// must be able to execute its binary.
var (
	dorritctlBin string
	echoBin      string
	pubsubBin    string
	notifyBin    string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "dorrit-integration")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dorritctlBin = filepath.Join(dir, "dorritctl")
	echoBin = filepath.Join(dir, "echo")
	pubsubBin = filepath.Join(dir, "pubsub")
	notifyBin = filepath.Join(dir, "notify")
	// Each from its own module's directory (examples/pubsub is a module of
	// its own), so that this module needs none of their dependencies.
	for _, b := range []struct{ out, dir, pkg string }{
		{dorritctlBin, "..", "./cmd/dorritctl"},
		{echoBin, "..", "./examples/echo"},
		{notifyBin, "..", "./examples/notify"},
		{pubsubBin, "../examples/pubsub", "."},
	} {
		build := exec.Command("go", "build", "-o", b.out, b.pkg)
		build.Dir = b.dir
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go build %s: %v\n%s", b.pkg, err, out)
			return 1
		}
		if err := os.Chmod(b.out, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return m.Run()
}
