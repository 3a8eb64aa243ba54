package protocol

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
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

// maskRef is the byte-by-byte reference, written as RFC 6455 section 5.3
// states it: j = i MOD 4, transformed-octet-i = original-octet-i XOR
// masking-key-octet-j.
func maskRef(key [4]byte, pos int, b []byte) int {
	for i := range b {
		b[i] ^= key[(pos+i)%4]
	}
	return pos + len(b)
}

func maskKey(key [4]byte) uint32 { return binary.LittleEndian.Uint32(key[:]) }

func maskRandBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestMaskMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	keys := [][4]byte{{0, 0, 0, 0}, {0xff, 0xff, 0xff, 0xff}, {1, 2, 3, 4}, {0x37, 0xfa, 0x21, 0x3d}}
	lengths := []int{}
	for n := 0; n <= 100; n++ {
		lengths = append(lengths, n)
	}
	lengths = append(lengths, 1000, 4093, 4096, 65536+5)
	// Slack on both sides: b starts at every alignment, and bytes outside b
	// must not be touched.
	const slack = 9
	for _, key := range keys {
		for pos := 0; pos < 8; pos++ {
			for _, n := range lengths {
				for off := 0; off < 8; off++ {
					orig := maskRandBytes(r, slack+n+slack)
					got := bytes.Clone(orig)
					want := bytes.Clone(orig)
					end := mask(maskKey(key), pos, got[slack+off:slack+off+n])
					maskRef(key, pos, want[slack+off:slack+off+n])
					if end != pos+n {
						t.Fatalf("key %x pos %d len %d: returned %d, want %d", key, pos, n, end, pos+n)
					}
					if !bytes.Equal(got, want) {
						t.Fatalf("key %x pos %d len %d offset %d: mismatch", key, pos, n, off)
					}
				}
			}
		}
	}
}

func TestMaskKnownVector(t *testing.T) {
	// RFC 6455 section 5.7: a masked "Hello" sent by a client.
	frame := []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}
	key := binary.LittleEndian.Uint32(frame[2:6])
	payload := frame[6:]
	// In two pieces, as if the payload arrived split.
	pos := mask(key, 0, payload[:2])
	pos = mask(key, pos, payload[2:])
	if pos != 5 || string(payload) != "Hello" {
		t.Fatalf("got %q, pos %d", payload, pos)
	}
}

func TestMaskPiecewise(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	key := r.Uint32()
	for _, n := range []int{0, 1, 7, 8, 9, 31, 32, 33, 100, 257, 5000} {
		orig := maskRandBytes(r, n)
		want := bytes.Clone(orig)
		mask(key, 0, want)
		// Every split into two pieces.
		for i := 0; i <= n; i++ {
			got := bytes.Clone(orig)
			pos := mask(key, 0, got[:i])
			if pos = mask(key, pos, got[i:]); pos != n {
				t.Fatalf("len %d split %d: end %d", n, i, pos)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("len %d split %d: mismatch", n, i)
			}
		}
		// Random pieces, including empty ones.
		for range 50 {
			got := bytes.Clone(orig)
			pos := 0
			for pos < n {
				pos = mask(key, pos, got[pos:min(n, pos+r.IntN(40))])
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("len %d random pieces: mismatch", n)
			}
		}
		// Masking twice restores the original.
		mask(key, 0, want)
		if !bytes.Equal(orig, want) {
			t.Fatalf("len %d: not an involution", n)
		}
	}
}

func TestMaskAllocs(t *testing.T) {
	b := make([]byte, 1000)
	if n := testing.AllocsPerRun(100, func() { mask(0x12345678, 3, b[1:]) }); n != 0 {
		t.Fatalf("%v allocations per run", n)
	}
}

func FuzzMask(f *testing.F) {
	f.Add(uint32(0x3d21fa37), 0, []byte("Hello"), uint8(2))
	f.Add(uint32(0xffffffff), 3, bytes.Repeat([]byte{0xaa}, 70), uint8(13))
	f.Fuzz(func(t *testing.T, key uint32, pos int, b []byte, cut uint8) {
		pos = int(uint32(pos)) // keep pos+len(b) from overflowing
		var k [4]byte
		binary.LittleEndian.PutUint32(k[:], key)
		want := bytes.Clone(b)
		maskRef(k, pos, want)
		got := bytes.Clone(b)
		i := min(int(cut), len(got))
		end := mask(key, mask(key, pos, got[:i]), got[i:])
		if end != pos+len(b) {
			t.Fatalf("end %d, want %d", end, pos+len(b))
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("mismatch for key %08x pos %d split %d", key, pos, i)
		}
	})
}

func BenchmarkMask(b *testing.B) {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	for _, n := range []int{128, 4 << 10, 64 << 10} {
		buf := make([]byte, n+1)
		b.Run(fmt.Sprintf("%d/mask", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				mask(maskKey(key), 1, buf[:n])
			}
		})
		b.Run(fmt.Sprintf("%d/mask-unaligned", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				mask(maskKey(key), 1, buf[1:])
			}
		})
		b.Run(fmt.Sprintf("%d/bytewise", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				maskRef(key, 1, buf[:n])
			}
		})
	}
}
