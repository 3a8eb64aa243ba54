package protocol

import (
	"encoding/binary"
	"testing"
)

// FuzzParseHeader: any bytes either ask for more or give a header whose
// size is one of the wire forms and fits in what was given; with the
// length in its shortest form, the header encodes back to the same bytes.
func FuzzParseHeader(f *testing.F) {
	for _, seed := range [][]byte{
		{0x81, 0x85, 1, 2, 3, 4}, {0x01, 0xfe, 0x00, 0x7e, 9, 9, 9, 9},
		{0x80, 0xfe, 0xff, 0xff, 0, 0, 0, 0}, {0x81, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4},
		{0x89, 0x80, 0, 0, 0, 0}, {0x81}, {0x81, 0x7d}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, ok := parseHeader(b)
		if !ok {
			return
		}
		switch h.size {
		case 2, 4, 6, 8, 10, 14:
		default:
			t.Fatalf("header size %d", h.size)
		}
		if h.size > len(b) {
			t.Fatalf("header of %d bytes from %d", h.size, len(b))
		}
		minimal := h.length <= 125 && b[1]&0x7f <= 125 ||
			h.length > 125 && h.length <= 0xffff && b[1]&0x7f == 126 ||
			h.length > 0xffff && b[1]&0x7f == 127
		if !minimal || h.length > 1<<31 { // putHeader writes what a server sends
			return
		}
		enc := make([]byte, maxHeaderLen)
		n := putHeader(enc, h.fin, h.opcode, int(h.length)) // server form: no mask bit
		enc[0] |= h.rsv
		if h.masked {
			enc[1] |= 0x80
			binary.LittleEndian.PutUint32(enc[n:], h.key)
			n += 4
		}
		if string(enc[:n]) != string(b[:h.size]) {
			t.Fatalf("%x parsed as %+v encodes back as %x", b[:h.size], h, enc[:n])
		}
	})
}
