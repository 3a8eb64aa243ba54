package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
)

// The README's table of flags is the one -help prints: none missing, none
// that the server does not have.
func TestREADMEFlags(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatalf("examples/echo needs a README: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "echo")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	help, _ := exec.Command(bin, "-help").CombinedOutput() // exit 0 or 2, as flag decides
	inHelp := names(regexp.MustCompile(`(?m)^  -(\w+)`), help)
	inHelp = append(inHelp, "help")
	inREADME := names(regexp.MustCompile("(?m)^\\| `-(\\w+)"), readme)
	slices.Sort(inHelp)
	slices.Sort(inREADME)
	if len(inHelp) < 3 || !slices.Equal(inHelp, inREADME) {
		t.Errorf("flags in -help: %v\nflags in README.md's table: %v", inHelp, inREADME)
	}
}

func names(re *regexp.Regexp, text []byte) []string {
	var out []string
	for _, m := range re.FindAllSubmatch(text, -1) {
		out = append(out, string(m[1]))
	}
	return out
}
