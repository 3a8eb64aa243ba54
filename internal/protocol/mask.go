package protocol

import (
	"encoding/binary"
	"math/bits"
)

// mask XORs b in place with the WebSocket masking key (RFC 6455, section
// 5.3). key is the 4-byte key as it appears in the frame header, read with
// binary.LittleEndian.Uint32, so that key[0] applies to payload byte 0. pos is
// the offset of b[0] within the payload, so a payload can be (un)masked in
// pieces of any size as it arrives: calling mask on consecutive pieces,
// passing each call's result as the next pos, gives the same bytes as one call
// on the whole payload. It returns pos+len(b). Only pos%4 matters; pos must
// not be negative. mask does not allocate and does not retain b.
func mask(key uint32, pos int, b []byte) int {
	// Rotate the key so that its low byte applies to b[0]; from there the
	// key repeats every 4 bytes, so a doubled key covers 8 bytes at once.
	k := bits.RotateLeft32(key, -8*(pos&3))
	k8 := uint64(k) | uint64(k)<<32
	// b may start at any address. The word accesses below compile to plain
	// unaligned moves on amd64 and arm64, which measured no slower than
	// aligned ones (see BenchmarkMask), so there is no byte-wise prologue to
	// reach alignment. Four words per iteration cut the loop overhead;
	// that was 1.5-2x faster than one word per iteration from 128 B up.
	// Indexing instead of reslicing avoids a pointer fix-up per iteration.
	i := 0
	for ; i <= len(b)-32; i += 32 {
		q := b[i : i+32]
		binary.LittleEndian.PutUint64(q[0:], binary.LittleEndian.Uint64(q[0:])^k8)
		binary.LittleEndian.PutUint64(q[8:], binary.LittleEndian.Uint64(q[8:])^k8)
		binary.LittleEndian.PutUint64(q[16:], binary.LittleEndian.Uint64(q[16:])^k8)
		binary.LittleEndian.PutUint64(q[24:], binary.LittleEndian.Uint64(q[24:])^k8)
	}
	for ; i <= len(b)-8; i += 8 {
		q := b[i : i+8]
		binary.LittleEndian.PutUint64(q, binary.LittleEndian.Uint64(q)^k8)
	}
	p := b[i:]
	// Fewer than 8 bytes remain; the word loops kept k8 in phase, so the
	// tail starts at the low byte again.
	if len(p) >= 4 {
		binary.LittleEndian.PutUint32(p, binary.LittleEndian.Uint32(p)^k)
		p = p[4:]
	}
	for i := range p {
		p[i] ^= byte(k >> (8 * i))
	}
	return pos + len(b)
}
