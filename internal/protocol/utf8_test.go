package protocol

import (
	"bytes"
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

// utf8Viable is the reference for fail-fast behaviour: it reports whether p
// can be extended to valid UTF-8. Only the byte right after a lead byte has a
// narrowed range (E0, ED, F0, F4), and each of those ranges contains one of
// the candidates tried first, so these completions are enough.
func utf8Viable(p []byte) bool {
	if utf8.Valid(p) {
		return true
	}
	q := make([]byte, len(p), len(p)+3)
	copy(q, p)
	for _, first := range []byte{0x80, 0x90, 0xA0, 0xBF} {
		q := append(q[:len(p)], first)
		for range 3 {
			if utf8.Valid(q) {
				return true
			}
			q = append(q, 0x80)
		}
	}
	return false
}

// utf8FirstBad returns the index of the first byte of p at which p stops
// being a prefix of valid UTF-8, or -1 if there is none.
func utf8FirstBad(p []byte) int {
	for i := 0; i < len(p); {
		r, size := utf8.DecodeRune(p[i:])
		if r != utf8.RuneError || size > 1 {
			i += size
			continue
		}
		// An invalid or truncated sequence starts at i; find how much of it
		// could still be completed.
		for j := i + 1; j <= len(p) && j <= i+4; j++ {
			if !utf8Viable(p[i:j]) {
				return j - 1
			}
		}
		return -1 // truncated at the end of p
	}
	return -1
}

// utf8RunChunks feeds chunks to a fresh state, checking that check fails on the
// chunk holding byte firstBad (if any) and not before, and keeps failing
// afterwards. It returns whether everything passed check and complete.
func utf8RunChunks(t testing.TB, chunks [][]byte, firstBad int) bool {
	t.Helper()
	var s utf8State
	ok, off := true, 0
	for i, c := range chunks {
		got := s.check(c)
		end := off + len(c)
		switch {
		case firstBad >= 0 && firstBad < off:
			if got {
				t.Fatalf("chunk %d (%q) after a failure: check = true", i, chunks)
			}
		case firstBad >= off && firstBad < end:
			if got {
				t.Fatalf("chunk %d of %q holds the first bad byte (offset %d): check = true", i, chunks, firstBad)
			}
		default:
			if !got {
				t.Fatalf("chunk %d of %q: check = false before the first bad byte (offset %d)", i, chunks, firstBad)
			}
		}
		ok = ok && got
		off = end
	}
	if firstBad >= 0 && s.complete() {
		t.Fatalf("%q: complete after a failure", chunks)
	}
	return ok && s.complete()
}

func TestUTF8StateTable(t *testing.T) {
	const pad = "0123456789abcdef" // long enough to go through the 8-byte path
	tests := []struct {
		name     string
		chunks   []string
		failAt   int // index of the chunk on which check must fail; -1 for none
		complete bool
	}{
		{"empty", nil, -1, true},
		{"empty chunk", []string{""}, -1, true},
		{"ascii", []string{"hello, world"}, -1, true},
		{"long ascii", []string{strings.Repeat("abc", 100)}, -1, true},
		{"2 byte", []string{"\xc2\x80\xdf\xbf"}, -1, true},
		{"3 byte bounds", []string{"\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf"}, -1, true},
		{"4 byte bounds", []string{"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf"}, -1, true},
		{"U+FFFD", []string{"\xef\xbf\xbd"}, -1, true},
		{"mixed", []string{"Привет, 世界! 👋 ok"}, -1, true},
		{"split 2", []string{"\xc3", "\xa9"}, -1, true},
		{"split 4 in 4", []string{"\xf0", "\x9f", "\x98", "\x80"}, -1, true},
		{"split after pad", []string{pad + "\xe4\xb8", "\x96" + pad}, -1, true},
		{"empty chunks between", []string{"\xe4", "", "\xb8", "", "\x96"}, -1, true},

		{"truncated 2", []string{"\xc3"}, -1, false},
		{"truncated 3", []string{"\xe4\xb8"}, -1, false},
		{"truncated 4", []string{pad + "\xf0\x9f\x98"}, -1, false},

		// Fail fast: the first impossible byte fails the chunk holding it.
		{"lone continuation", []string{"\x80"}, 0, false},
		{"lone continuation bf", []string{"a\xbf"}, 0, false},
		{"C0", []string{"\xc0"}, 0, false},
		{"C1", []string{"\xc1"}, 0, false},
		{"C0 overlong slash", []string{"\xc0\xaf"}, 0, false},
		{"F5", []string{"\xf5"}, 0, false},
		{"F8", []string{"\xf8"}, 0, false},
		{"FE", []string{"\xfe"}, 0, false},
		{"FF", []string{"\xff"}, 0, false},
		{"ED A0 surrogate", []string{"\xed\xa0"}, 0, false},
		{"ED BF surrogate", []string{"\xed\xbf\xbf"}, 0, false},
		{"ED | A0", []string{"\xed", "\xa0"}, 1, false},
		{"F4 90 too big", []string{"\xf4\x90"}, 0, false},
		{"F4 | 90", []string{"\xf4", "\x90\x80\x80"}, 1, false},
		{"E0 80 overlong", []string{"\xe0\x80"}, 0, false},
		{"E0 9F overlong", []string{"\xe0", "\x9f"}, 1, false},
		{"F0 80 overlong", []string{"\xf0\x80"}, 0, false},
		{"F0 8F overlong", []string{"\xf0", "\x8f"}, 1, false},
		{"missing continuation", []string{"\xc3", "a"}, 1, false},
		{"missing 3rd byte", []string{"\xe4\xb8", "a"}, 1, false},
		{"too many continuations", []string{"\xc3\xa9", "\xa9"}, 1, false},
		{"bad in block", []string{pad + "\xff" + pad}, 0, false},
		{"surrogate in block", []string{pad[:5] + "\xed\xa0\x80" + pad}, 0, false},
		{"bad byte then more chunks", []string{"ok", "\xff", "more", ""}, 1, false},
		{"bad after pending across pad", []string{pad + "\xe4", "\xb8\xc0" + pad}, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s utf8State
			for i, c := range tt.chunks {
				want := tt.failAt < 0 || i < tt.failAt
				if got := s.check([]byte(c)); got != want {
					t.Fatalf("check(chunk %d %q) = %v, want %v", i, c, got, want)
				}
			}
			if got := s.complete(); got != tt.complete {
				t.Fatalf("complete() = %v, want %v", got, tt.complete)
			}
			// The reference agrees with the table.
			all := []byte(strings.Join(tt.chunks, ""))
			if want := tt.complete; utf8.Valid(all) != want {
				t.Fatalf("table entry disagrees with utf8.Valid")
			}
			// reset makes the state usable for the next message.
			s.reset()
			if !s.complete() || !s.check([]byte("fine")) || !s.complete() {
				t.Fatalf("state not usable after reset")
			}
		})
	}
}

// TestUTF8StateExhaustive walks every byte string of up to one character
// (stopping at the first complete or impossible prefix), feeding it one byte
// at a time, and compares each verdict with the reference. It covers every
// transition of the automaton. The same strings are also checked in one piece
// placed across an 8-byte block boundary.
func TestUTF8StateExhaustive(t *testing.T) {
	if testing.Short() {
		t.Skip("walks 4.5M strings (about 1s, 12s with -race)")
	}
	pad := []byte("1234567") // one short of a block, so q straddles it
	var scratch [32]byte
	var walk func(q []byte, s utf8State) int
	walk = func(q []byte, s utf8State) int {
		n := 0
		for b := range 256 {
			q := append(q, byte(b))
			next := s
			got := next.check(q[len(q)-1:])
			want := utf8Viable(q)
			if got != want {
				t.Fatalf("check byte by byte of % x = %v, want %v", q, got, want)
			}
			if next.complete() != utf8.Valid(q) {
				t.Fatalf("complete after % x = %v, want %v", q, next.complete(), utf8.Valid(q))
			}
			var whole utf8State
			buf := append(append(append(scratch[:0], pad...), q...), pad...)
			if got := whole.check(buf[:len(pad)+len(q)]); got != want {
				t.Fatalf("check(%q) = %v, want %v", buf[:len(pad)+len(q)], got, want)
			}
			if got, want := whole.check(pad) && whole.complete(), utf8.Valid(buf); got != want {
				t.Fatalf("%q: valid = %v, want %v", buf, got, want)
			}
			n++
			if got && !next.complete() {
				n += walk(q, next)
			}
		}
		return n
	}
	n := walk(nil, utf8State(0))
	t.Logf("%d strings checked", n)
}

var utf8Samples = []string{
	"",
	"a",
	"hello, world",
	"The quick brown fox jumps over the lazy dog",
	"Привет, мир! Съешь же ещё этих мягких французских булок",
	"世界你好，这是一个测试。日本語のテキストもあります",
	"emoji 👋🏽 and 🇺🇦 flags, math 𝔸𝔹ℂ, ok",
	"\u007f\u0080\u07ff\u0800\ud7ff\ue000\uffff\U00010000\U0010ffff",
	"\xef\xbf\xbd replacement char and BOM \ufeff",
	"abc\xffdef ghij klmnop",
	"abcdefgh\xed\xa0\x80 surrogate at a block start",
	"abcdefg\xf4\x90\x80\x80 too big, straddling",
	"abcdefg\xc0\xaf overlong slash",
	"abcdefg\xe0\x80\xaf overlong 3 and more text here",
	"Привет\x80мир, lone continuation in text",
	"truncated at the end \xe4\xb8",
	"truncated 4 at the end ....\xf0\x9f\x98",
	"\xe4\xb8\x96\xe7\x95\x8c\xe4\xb8 truncated then ascii",
	"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0",
	strings.Repeat("é", 20) + "\xc3",
	strings.Repeat("x", 17) + "\xed\xbf\xbf" + strings.Repeat("y", 9),
}

// TestUTF8StateSplits splits each sample at every position into two and
// three pieces and compares with utf8.Valid, also checking that a failure is
// reported on the piece holding the first impossible byte.
func TestUTF8StateSplits(t *testing.T) {
	for _, str := range utf8Samples {
		p := []byte(str)
		bad := utf8FirstBad(p)
		want := utf8.Valid(p)
		if want && bad >= 0 || !want && bad < 0 && utf8Viable(p) == false {
			t.Fatalf("%q: reference helpers disagree", p)
		}
		if got := utf8RunChunks(t, [][]byte{p}, bad); got != want {
			t.Fatalf("%q: one piece: valid = %v, want %v", p, got, want)
		}
		for i := 0; i <= len(p); i++ {
			if got := utf8RunChunks(t, [][]byte{p[:i], p[i:]}, bad); got != want {
				t.Fatalf("%q split at %d: valid = %v, want %v", p, i, got, want)
			}
			for j := i; j <= len(p); j++ {
				if got := utf8RunChunks(t, [][]byte{p[:i], p[i:j], p[j:]}, bad); got != want {
					t.Fatalf("%q split at %d, %d: valid = %v, want %v", p, i, j, got, want)
				}
			}
		}
	}
}

func TestUTF8StateStaysRejected(t *testing.T) {
	var s utf8State
	if s.check([]byte("\xff")) {
		t.Fatal("check(FF) = true")
	}
	for _, p := range []string{"", "a", "abcdefghijklmnop", "\x80"} {
		if s.check([]byte(p)) {
			t.Fatalf("check(%q) after a failure = true", p)
		}
	}
	if s.complete() {
		t.Fatal("complete after a failure")
	}
}

func TestUTF8StateAllocs(t *testing.T) {
	p := bytes.Repeat([]byte("abcdefgh Привет 世界 👋"), 50)
	var s utf8State
	if n := testing.AllocsPerRun(100, func() {
		s.reset()
		s.check(p[:33])
		s.check(p[33:])
		_ = s.complete()
	}); n != 0 {
		t.Fatalf("%v allocations per run", n)
	}
}

// FuzzUTF8State compares against utf8.Valid with the input cut into pieces at
// fuzzer-chosen lengths.
func FuzzUTF8State(f *testing.F) {
	for _, s := range utf8Samples {
		f.Add([]byte(s), []byte{3, 0, 9})
	}
	f.Add([]byte("\xed\xa0\x80"), []byte{1})
	f.Add([]byte("0123456\xf4\x8f\xbf\xbf0123456789"), []byte{8, 1})
	f.Fuzz(func(t *testing.T, p, cuts []byte) {
		var chunks [][]byte
		rest := p
		for _, c := range cuts {
			n := min(int(c), len(rest))
			chunks = append(chunks, rest[:n])
			rest = rest[n:]
		}
		chunks = append(chunks, rest)
		if got, want := utf8RunChunks(t, chunks, utf8FirstBad(p)), utf8.Valid(p); got != want {
			t.Fatalf("%q in pieces %q: valid = %v, want %v", p, chunks, got, want)
		}
	})
}

func utf8BenchText(sample string) []byte {
	p := []byte(strings.Repeat(sample, 4096/len(sample)+1)[:4096])
	for !utf8.Valid(p) { // cut back to a character boundary
		p = p[:len(p)-1]
	}
	return p
}

func BenchmarkUTF8Check(b *testing.B) {
	texts := []struct{ name, sample string }{
		{"ascii", "The quick brown fox jumps over the lazy dog. "},
		{"cyrillic", "Съешь же ещё этих мягких французских булок, да выпей чаю. "},
		{"cjk", "我能吞下玻璃而不伤身体。私はガラスを食べられます。"},
		{"mixed", "Hello, мир! 世界 ok 👋 naïve café, "},
	}
	for _, tt := range texts {
		p := utf8BenchText(tt.sample)
		b.Run(tt.name+"/state", func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			for b.Loop() {
				var s utf8State
				if !s.check(p) || !s.complete() {
					b.Fatal("invalid")
				}
			}
		})
		b.Run(tt.name+"/utf8.Valid", func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			for b.Loop() {
				if !utf8.Valid(p) {
					b.Fatal("invalid")
				}
			}
		})
	}
}

// FuzzUTF8Split: checking a text in two pieces, as it arrives from the
// socket, agrees with utf8.Valid on the whole, wherever the cut falls.
func FuzzUTF8Split(f *testing.F) {
	for _, seed := range []string{"", "héllo", "\xf0\x9f\x98\x80", "\xed\xa0\x80", "\xc0\xaf", "a\xffb", "\xf4\x90\x80\x80"} {
		f.Add([]byte(seed), uint8(1))
	}
	f.Fuzz(func(t *testing.T, b []byte, cut uint8) {
		at := 0
		if len(b) > 0 {
			at = int(cut) % (len(b) + 1)
		}
		var s utf8State
		s.reset()
		ok := s.check(b[:at]) && s.check(b[at:]) && s.complete()
		if ok != utf8.Valid(b) {
			t.Fatalf("%q cut at %d: incremental %v, utf8.Valid %v", b, at, ok, utf8.Valid(b))
		}
	})
}
