package protocol

import (
	"bytes"
	"testing"
)

// Rule: client payloads are unmasked in place, in pieces of any size: the
// same message whether it arrives whole or a byte at a time.
func TestMasking(t *testing.T) {
	msg := "The quick brown fox jumps over the lazy dog, 0123456789"
	for _, split := range []int{0, 1, 2, 3, 5, 7, 13, 64} {
		run(t, Config{}, []step{
			{in: text(msg), split: split, want: []string{"message " + msg}},
			{in: cat(text("ab"), text("cde")), split: split, want: []string{"message ab", "message cde"}},
		})
	}
}

// mask matches a byte-wise XOR for every offset and length, in one piece
// or two.
func TestMaskPieces(t *testing.T) {
	key := uint32(0x3d21fa37)
	for n := range 70 {
		for pos := range 4 {
			for cut := 0; cut <= n; cut += 5 {
				b := make([]byte, n)
				for i := range b {
					b[i] = byte(i * 7)
				}
				want := bytes.Clone(b)
				for i := range want {
					want[i] ^= byte(key >> (8 * ((pos + i) % 4)))
				}
				next := mask(key, pos, b[:cut])
				mask(key, next, b[cut:])
				if !bytes.Equal(b, want) {
					t.Fatalf("n=%d pos=%d cut=%d: %x, want %x", n, pos, cut, b, want)
				}
			}
		}
	}
}
