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

// parseHeader reads every length form, at its edges, and asks for more
// bytes until the whole header is there.
func TestParseHeader(t *testing.T) {
	cases := []struct {
		name   string
		b      []byte
		want   header
		wantOK bool
	}{
		{"empty", nil, header{}, false},
		{"one byte", []byte{0x81}, header{}, false},
		{"unmasked 0", []byte{0x81, 0x00}, header{fin: true, opcode: opText, size: 2}, true},
		{"125 in 7 bits", []byte{0x81, 0xfd, 1, 2, 3, 4}, header{fin: true, opcode: opText, masked: true, length: 125, key: 0x04030201, size: 6}, true},
		{"126 needs 2 more", []byte{0x01, 0xfe, 0x00}, header{}, false},
		{"126 form", []byte{0x01, 0xfe, 0x00, 0x7e, 9, 9, 9, 9}, header{opcode: opText, masked: true, length: 126, key: 0x09090909, size: 8}, true},
		{"65535 in 16 bits", []byte{0x80, 0xfe, 0xff, 0xff, 0, 0, 0, 0}, header{fin: true, masked: true, length: 65535, size: 8}, true},
		{"127 needs 8 more", []byte{0x81, 0xff, 0, 0, 0, 0, 0, 1}, header{}, false},
		{"127 form", []byte{0x81, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4}, header{fin: true, opcode: opText, masked: true, length: 65536, key: 0x04030201, size: 14}, true},
		{"mask cut", []byte{0x81, 0x85, 1, 2}, header{}, false},
		{"rsv and opcode", []byte{0x7a, 0x80, 0, 0, 0, 0}, header{rsv: 0x70, opcode: opPong, masked: true, size: 6}, true},
	}
	for _, tc := range cases {
		h, ok := parseHeader(tc.b)
		if ok != tc.wantOK || ok && h != tc.want {
			t.Errorf("%s: parseHeader = %+v, %v; want %+v, %v", tc.name, h, ok, tc.want, tc.wantOK)
		}
	}
}
