package protocol

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// Rule (1007): a text message is checked as its bytes arrive, across
// fragments and reads; the first impossible byte fails it, and a message
// that ends inside a sequence fails at its last frame.
func TestUTF8AcrossFragments(t *testing.T) {
	euro := "\u20ac" // e2 82 ac
	badUTF8 := sclose(1007, "invalid UTF-8 in a text message")
	for _, split := range []int{0, 1, 7} {
		// A character cut between fragments is fine.
		run(t, Config{}, []step{
			{in: cat(cf(opText, false, "a"+euro[:1]), cf(opContinuation, false, euro[1:2]), cf(opContinuation, true, euro[2:]+"b")), split: split,
				want: []string{"message a" + euro + "b"}},
		})
		// An impossible byte fails at once, before the message ends.
		run(t, Config{}, []step{
			{in: cf(opText, false, "ok\xc0"), split: split, want: []string{"fail 1007"}, out: badUTF8},
		})
		// A surrogate (ED A0) split across fragments.
		run(t, Config{}, []step{
			{in: cat(cf(opText, false, "\xed"), cf(opContinuation, false, "\xa0")), split: split, want: []string{"fail 1007"}, out: badUTF8},
		})
		// A sequence still open at the last frame.
		run(t, Config{}, []step{
			{in: cat(cf(opText, false, "x"), cf(opContinuation, true, euro[:2])), split: split, want: []string{"fail 1007"},
				out: sclose(1007, "text message ends inside a UTF-8 sequence")},
		})
		// An invalid close reason.
		run(t, Config{}, []step{
			{in: cclose(1000, "\xff"), split: split, want: []string{"fail 1007"}, out: sclose(1007, "close reason is not valid UTF-8")},
		})
	}
}

// The incremental check accepts exactly what utf8.Valid accepts, however
// the bytes are cut.
func TestUTF8MatchesTheStandardLibrary(t *testing.T) {
	for _, s := range []string{"", "plain", "h\u00e9llo \u20ac \U0001F600", "\xed\x9f\xbf", "\xed\xa0\x80", "\xf4\x8f\xbf\xbf", "\xf4\x90\x80\x80",
		"\xe0\x9f\xbf", "\xc1\xbf", strings.Repeat("ab\u00e9", 20) + "\xe2\x82"} {
		for cut := 0; cut <= len(s); cut++ {
			var st utf8State
			ok := st.check([]byte(s[:cut])) && st.check([]byte(s[cut:])) && st.complete()
			if ok != utf8.ValidString(s) {
				t.Fatalf("%q cut at %d: %v", s, cut, ok)
			}
		}
	}
}
