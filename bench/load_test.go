package main

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// serverFrame is an unmasked server frame.
func serverFrame(fin bool, op byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	f := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		f = append(f, byte(n))
	case n <= 0xffff:
		f = binary.BigEndian.AppendUint16(append(f, 126), uint16(n))
	default:
		f = binary.BigEndian.AppendUint64(append(f, 127), uint64(n))
	}
	return append(f, payload...)
}

func TestRepliesCountsMessagesFedInAnyPieces(t *testing.T) {
	for _, size := range []int{0, 1, 125, 126, 4 << 10, 70 << 10} {
		p := bytes.Repeat([]byte("x"), size)
		var stream []byte
		stream = append(stream, serverFrame(true, 0x1, p)...)
		stream = append(stream, serverFrame(false, 0x1, p[:size/2])...) // a fragmented one
		stream = append(stream, serverFrame(true, 0x0, p[size/2:])...)
		stream = append(stream, serverFrame(true, 0x1, p)...)
		for _, piece := range []int{1, 2, 3, 7, 64, len(stream)} {
			r := replies{size: size}
			total := 0
			for b := stream; len(b) > 0; {
				k := min(piece, len(b))
				n, err := r.feed(b[:k])
				if err != nil {
					t.Fatalf("size %d, pieces of %d: %v", size, piece, err)
				}
				total += n
				b = b[k:]
			}
			if total != 3 {
				t.Errorf("size %d, pieces of %d: %d messages, want 3", size, piece, total)
			}
		}
	}
}

func TestRepliesRefusesWhatAnEchoMustNotBe(t *testing.T) {
	for name, f := range map[string][]byte{
		"wrong size": serverFrame(true, 0x1, []byte("short")),
		"binary":     serverFrame(true, 0x2, bytes.Repeat([]byte("x"), 8)),
		"masked":     {0x81, 0x88, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0},
		"reserved":   append([]byte{0xc1, 8}, bytes.Repeat([]byte("x"), 8)...),
	} {
		r := replies{size: 8}
		if _, err := r.feed(f); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestRawRepliesCountBytes(t *testing.T) {
	r := replies{size: 10, raw: true}
	n1, _ := r.feed(make([]byte, 25))
	n2, _ := r.feed(make([]byte, 5))
	if n1 != 2 || n2 != 1 {
		t.Errorf("got %d then %d messages, want 2 then 1", n1, n2)
	}
}

func TestFrameIsMaskedText(t *testing.T) {
	p := []byte("hello")
	f := frame(p, false)
	if f[0] != 0x81 || f[1] != 0x80|5 {
		t.Fatalf("header % x", f[:2])
	}
	key := f[2:6]
	for i, b := range f[6:] {
		if b^key[i&3] != p[i] {
			t.Fatalf("payload does not unmask to %q", p)
		}
	}
}
