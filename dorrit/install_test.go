//go:build cgo && (linux || freebsd)

package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// commands lists the programs go install ./... would install from the
// module's root with these build flags: the packages main that have Go
// files to build.
func commands(t *testing.T, flags ...string) []string {
	t.Helper()
	args := append([]string{"list", "-e"}, flags...)
	args = append(args, "-f", `{{if and (eq .Name "main") .GoFiles}}{{.ImportPath}}{{end}}`, "./...")
	cmd := exec.Command("go", args...)
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v", strings.Join(args, " "), err)
	}
	return strings.Fields(string(out))
}

// go install ./... (and go build ./...) leaves the C archive's package
// out: linked as a program it only lists the C callbacks it misses. make
// libdorrit builds it with the build tag libdorrit.
func TestGoInstallLeavesLibdorritOut(t *testing.T) {
	const pkg = "github.com/dorritgo/dorrit/dorrit"
	if cmds := commands(t); slices.Contains(cmds, pkg) {
		t.Errorf("go install ./... installs %s as a program (commands: %v): its Go files need the build tag libdorrit", pkg, cmds)
	}
	if cmds := commands(t, "-tags", "libdorrit"); !slices.Contains(cmds, pkg) {
		t.Errorf("with -tags libdorrit, %s is not among the packages to build (%v)", pkg, cmds)
	}
}
