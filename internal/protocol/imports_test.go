package protocol

import (
	"os/exec"
	"strings"
	"testing"
)

// The core imports nothing that waits, locks or touches the system, not
// even indirectly: an engine of any kind can drive it, and a rule can
// never hide in a goroutine hand-off.
func TestImportsNothingThatWaits(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := []string{"sync", "sync/atomic", "net", "os", "time", "syscall", "runtime", "context", "unsafe", "io"}
	deps := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		deps[p] = true
	}
	if !deps["unicode/utf8"] {
		t.Fatalf("go list -deps gave no standard packages: %q", out)
	}
	out, err = exec.Command("go", "list", "-f", `{{join .Imports " "}}`, ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if p == f || strings.HasPrefix(p, f+"/") {
				t.Errorf("the core imports %s", p)
			}
		}
	}
	// Nor may one of its imports bring the system in. (sync and runtime
	// are below errors, strings and encoding/binary themselves, so they
	// are checked only as the core's own imports, above.)
	for _, f := range []string{"net", "os", "time", "syscall", "context"} {
		if deps[f] {
			t.Errorf("the core depends on %s through its imports", f)
		}
	}
}
