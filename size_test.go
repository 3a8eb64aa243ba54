package dorrit

import (
	"testing"
	"unsafe"
)

// Every idle connection carries a MessageConn, so its size class shows in
// the memory per connection (BENCHMARKS.md): 448 bytes is the class it was
// brought into. State that only some connections need belongs in
// writeExtra or another part made on first use.
func TestMessageConnFitsItsSizeClass(t *testing.T) {
	if size := unsafe.Sizeof(MessageConn{}); size > 448 {
		t.Fatalf("MessageConn is %d bytes, over the 448-byte size class idle connections rely on", size)
	}
}
