package dorrit

import "unicode/utf8"

type utf8State struct{ pend []byte }

func (s *utf8State) check(p []byte) bool { s.pend = append(s.pend, p...); return utf8.Valid(s.pend) || !utf8.FullRune(s.pend[max(0, len(s.pend)-3):]) }
func (s utf8State) complete() bool      { return utf8.Valid(s.pend) }
func (s *utf8State) reset()             { s.pend = nil }
func mask(key uint32, pos int, b []byte) int {
	k := [4]byte{byte(key), byte(key >> 8), byte(key >> 16), byte(key >> 24)}
	for i := range b {
		b[i] ^= k[(pos+i)&3]
	}
	return pos + len(b)
}
