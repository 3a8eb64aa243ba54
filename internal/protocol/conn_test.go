package protocol

import (
	"testing"
	"unsafe"
)

// An engine keeps one Conn per connection, idle or not: the doc comment
// of Conn promises its size, and a field added carelessly shows here.
func TestConnSize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the figure is for 64-bit machines")
	}
	if got := unsafe.Sizeof(Conn{}); got > 232 {
		t.Fatalf("Conn is %d bytes, more than the 232 its doc promises", got)
	}
}
