package protocol

import "encoding/binary"

// utf8State is the state of an incremental UTF-8 check of one text message
// whose bytes arrive in arbitrary pieces; a multi-byte sequence may be split
// across pieces (and so across frames). The zero value is the start state.
//
// The accepted language is exactly that of utf8.Valid: no overlong forms, no
// surrogates (U+D800..U+DFFF), nothing above U+10FFFF.
type utf8State uint32

// The automaton is the same as Björn Höhrmann's UTF-8 DFA (same states, same
// fail-fast rejections), laid out as a "shift DFA": each state is a multiple
// of 6 and names a 6-bit field of a uint64 row, and utf8Trans[b] holds, in
// the field of every state, the state reached from it on byte b. A step is
// then one table load (independent of the state) and one shift, with no
// branch, so the serial chain through non-ASCII text is a single shift per
// byte. The compiler folds the "& 63" on the shift count into the machine
// shift, which masks its count anyway; the high bits a row leaves above the
// state are therefore cleared only when the state is inspected.
const (
	utf8Accept = 0  // on a character boundary
	utf8Reject = 6  // not a prefix of valid UTF-8; absorbing
	utf8Need1  = 12 // one more byte in 80..BF, then a boundary
	utf8Need2  = 18 // two more bytes in 80..BF
	utf8E0     = 24 // after E0: A0..BF (anything lower is overlong), then one more
	utf8ED     = 30 // after ED: 80..9F (anything higher is a surrogate), then one more
	utf8F0     = 36 // after F0: 90..BF (anything lower is overlong), then two more
	utf8F1     = 42 // after F1..F3: 80..BF, then two more
	utf8F4     = 48 // after F4: 80..8F (anything higher is above U+10FFFF), then two more
)

var utf8States = [...]uint8{utf8Accept, utf8Reject, utf8Need1, utf8Need2, utf8E0, utf8ED, utf8F0, utf8F1, utf8F4}

var utf8Trans = func() (t [256]uint64) {
	for b := range 256 {
		for _, from := range utf8States {
			t[b] |= uint64(utf8Next(from, byte(b))) << from
		}
	}
	return t
}()

// utf8Next is the transition function spelled out range by range; it is only
// used to build utf8Trans.
func utf8Next(from uint8, b byte) uint8 {
	in := func(lo, hi byte) bool { return lo <= b && b <= hi }
	switch from {
	case utf8Accept:
		switch {
		case b < 0x80:
			return utf8Accept
		case in(0xC2, 0xDF): // C0, C1 would only start overlong forms
			return utf8Need1
		case b == 0xE0:
			return utf8E0
		case b == 0xED:
			return utf8ED
		case in(0xE1, 0xEF):
			return utf8Need2
		case b == 0xF0:
			return utf8F0
		case in(0xF1, 0xF3):
			return utf8F1
		case b == 0xF4:
			return utf8F4
		}
	case utf8Need1:
		if in(0x80, 0xBF) {
			return utf8Accept
		}
	case utf8Need2:
		if in(0x80, 0xBF) {
			return utf8Need1
		}
	case utf8E0:
		if in(0xA0, 0xBF) {
			return utf8Need1
		}
	case utf8ED:
		if in(0x80, 0x9F) {
			return utf8Need1
		}
	case utf8F0:
		if in(0x90, 0xBF) {
			return utf8Need2
		}
	case utf8F1:
		if in(0x80, 0xBF) {
			return utf8Need2
		}
	case utf8F4:
		if in(0x80, 0x8F) {
			return utf8Need2
		}
	}
	return utf8Reject
}

const utf8HiBits = 0x8080808080808080

// check validates p as the continuation of the bytes passed to earlier calls
// since the start state. It returns false if and only if the bytes seen so far
// cannot be the beginning of valid UTF-8; it does so on the call whose p holds
// the first impossible byte (a lone continuation byte, C0, C1, F5..FF, E0 80,
// ED A0, F0 80, F4 90, a non-continuation byte inside a sequence, ...), not
// only when the message ends. Once it has returned false it keeps returning
// false until reset. It does not allocate and does not retain p.
//
// check returning true does not mean the message is valid: a sequence may
// still be pending; see complete.
func (s *utf8State) check(p []byte) bool {
	st := uint64(*s)
	if st == utf8Reject {
		return false
	}
	// Indexing rather than reslicing p saves the pointer adjustment a
	// reslice needs when it may reach the end; on ASCII that halved the
	// time of the skip loop.
	le := binary.LittleEndian
	i := 0
	for i <= len(p)-8 {
		if st == utf8Accept {
			// Between characters ASCII can be skipped a word at a time; four
			// words per test while it lasts, as text is mostly long runs.
			for ; i <= len(p)-32; i += 32 {
				q := p[i : i+32]
				if (le.Uint64(q[0:])|le.Uint64(q[8:])|le.Uint64(q[16:])|le.Uint64(q[24:]))&utf8HiBits != 0 {
					break
				}
			}
			if i > len(p)-8 {
				break
			}
			if le.Uint64(p[i:i+8])&utf8HiBits == 0 {
				i += 8
				continue
			}
		}
		// Run the automaton over the whole block and test for reject once:
		// reject is absorbing, so nothing is missed and the failure is still
		// reported by this call.
		b := p[i : i+8]
		st = utf8Trans[b[0]] >> (st & 63)
		st = utf8Trans[b[1]] >> (st & 63)
		st = utf8Trans[b[2]] >> (st & 63)
		st = utf8Trans[b[3]] >> (st & 63)
		st = utf8Trans[b[4]] >> (st & 63)
		st = utf8Trans[b[5]] >> (st & 63)
		st = utf8Trans[b[6]] >> (st & 63)
		st = utf8Trans[b[7]] >> (st & 63)
		st &= 63
		if st == utf8Reject {
			*s = utf8Reject
			return false
		}
		i += 8
	}
	for _, c := range p[i:] {
		st = utf8Trans[c] >> (st & 63)
	}
	st &= 63
	*s = utf8State(st)
	return st != utf8Reject
}

// complete reports whether the bytes seen so far end on a character boundary,
// with no sequence pending. With check having returned true for every piece,
// complete reports whether the whole message is valid UTF-8. It is false after
// a failed check.
func (s utf8State) complete() bool { return s == utf8Accept }

// reset returns s to the start state, ready for the next message.
func (s *utf8State) reset() { *s = utf8Accept }
