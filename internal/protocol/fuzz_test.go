package protocol

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
	"unicode/utf8"
)

// FuzzConn interleaves random application and engine calls with random
// client bytes (well-formed frames, broken ones and garbage, cut anywhere)
// and checks the invariants after every call:
//
//   - never more than MaxQueuedFrames data frames queued;
//   - what is written is a sequence of well-formed server frames: no mask,
//     no reserved bits, fragments of at most MaxPayload, control payloads
//     of at most 125 bytes, text messages valid UTF-8;
//   - a close frame is the last thing written: nothing after it, ever;
//   - every data frame accepted is written or counted in Undelivered
//     (exactly, once the connection is over), and every buffer goes back
//     to the pool.
func FuzzConn(f *testing.F) {
	f.Add([]byte{0, 0, 5, 1, 3, 'a', 'b', 'c', 4, 0, 9, 9, 9, 9, 5})
	f.Add([]byte{1, 10, 1, 200, 2, 5, 4, 0, 0, 3, 6, 5})
	f.Add([]byte{0, 6, 3, 0, 4, 1, 2, 3, 0, 2, 9, 9, 9, 9, 9, 9, 9, 9, 4, 17})
	f.Add([]byte{1, 1, 'x', 8, 1, 1, 'y', 4, 3, 7, 0, 0, 4, 0, 10, 5, 11})
	f.Add(bytes.Repeat([]byte{1, 2, 'h', 'i'}, 210))
	f.Fuzz(fuzzOnce)
}

func fuzzOnce(t *testing.T, data []byte) {
	{
		in := fuzzInput{data: data}
		maxPayload := 1 + int(in.byte()%40)
		pool := newTestPool()
		c := New(&Config{MaxPayload: maxPayload, PingAfter: 2, PongWithin: 2, Pool: pool}, 0)
		w := wire{maxPayload: maxPayload}
		if in.byte()%2 == 1 { // the handshake's answer waits in the queue
			b := pool.Get(len(testPreface))
			*b = append(*b, testPreface...)
			c.Preface(b)
			w.preface = testPreface
		}
		accepted := 0
		var now uint32
		var hdr DirectHeaders
		for !in.empty() {
			switch in.byte() % 13 {
			case 0: // a client frame, maybe broken, cut anywhere
				receiveAll(c, in.clientFrame(), 1+int(in.byte()%16))
			case 1:
				msg := in.message()
				if err := c.Write(msg); err == nil {
					accepted += framesOf(len(msg), maxPayload)
					w.sent = append(w.sent, string(msg))
				}
			case 2:
				msg := in.message()
				p := Prepare(msg, maxPayload)
				if err := c.WritePrepared(p); err == nil {
					accepted += len(p.frames)
					w.sent = append(w.sent, string(msg))
				}
			case 3:
				msg := bytes.Repeat(in.message(), 1+int(in.byte()))
				var iov [16][]byte
				out, err := c.WriteDirect(msg, &hdr, iov[:0])
				if err == nil {
					accepted += framesOf(len(msg), maxPayload)
					w.sent = append(w.sent, string(msg))
				}
				if len(out) > 0 {
					n := w.write(t, out, int(in.byte())*int(in.byte()))
					c.DirectWritten(msg, n)
				}
			case 4: // the socket takes some
				var iov [4][]byte
				c.Wrote(w.write(t, c.Output(iov[:0]), int(in.byte())))
			case 5: // the socket takes all
				for {
					var iov [16][]byte
					out := c.Output(iov[:0])
					if len(out) == 0 {
						break
					}
					c.Wrote(w.write(t, out, 1<<30))
				}
			case 6:
				c.Close(StatusCode(1000+int(in.byte()%4)), "bye")
			case 7:
				c.Drop(4000, "dropped")
			case 8:
				c.CloseNow()
			case 9:
				now++
				if c.Tick(now) && in.byte()%2 == 0 {
					c.TimeOut()
				}
			case 10:
				c.ReceiveEOF()
			case 11:
				c.LingerExpired()
			case 12:
				c.Cork(in.byte()%2 == 0)
			}
			if c.QueuedFrames() > MaxQueuedFrames {
				t.Fatalf("%d data frames queued", c.QueuedFrames())
			}
			if got := w.dataFrames + c.QueuedFrames() + int(c.Counters().Undelivered); got < accepted || w.dataFrames > accepted {
				t.Fatalf("accepted %d frames, wrote %d, queued %d, undelivered %d", accepted, w.dataFrames, c.QueuedFrames(), c.Counters().Undelivered)
			}
		}
		c.CloseNow()
		if got := w.dataFrames + int(c.Counters().Undelivered); got != accepted {
			t.Fatalf("accepted %d frames, wrote %d, undelivered %d", accepted, w.dataFrames, c.Counters().Undelivered)
		}
		if pool.outstanding() != 0 {
			t.Fatalf("%d buffers not given back", pool.outstanding())
		}
	}
}

// receiveAll gives b to c in pieces, as reads would.
func receiveAll(c *Conn, b []byte, piece int) {
	for len(b) > 0 {
		p := b[:min(piece, len(b))]
		b = b[len(p):]
		for len(p) > 0 {
			n, _ := c.Receive(p)
			if n == 0 {
				panic("Receive took nothing")
			}
			p = p[n:]
		}
	}
}

// fuzzInput draws choices from the fuzzer's bytes.
type fuzzInput struct{ data []byte }

func (in *fuzzInput) empty() bool { return len(in.data) == 0 }

func (in *fuzzInput) byte() byte {
	if len(in.data) == 0 {
		return 0
	}
	b := in.data[0]
	in.data = in.data[1:]
	return b
}

func (in *fuzzInput) bytes(n int) []byte {
	n = min(n, len(in.data))
	b := in.data[:n]
	in.data = in.data[n:]
	return bytes.Clone(b)
}

// message is a message to write: ASCII mostly, the fuzzer's bytes at times.
func (in *fuzzInput) message() []byte {
	n := int(in.byte())
	if n%8 == 0 {
		return in.bytes(n / 8)
	}
	return bytes.Repeat([]byte{'a' + byte(n%26)}, n)
}

// clientFrame is a frame as a client might send it: mostly well formed,
// at times broken in one way, at times garbage.
func (in *fuzzInput) clientFrame() []byte {
	sel := in.byte()
	ops := []byte{opText, opContinuation, opPing, opPong, opClose, opBinary, 0x3, opText}
	op := ops[sel%8]
	fin := sel&0x10 == 0
	n := int(in.byte() % 48)
	payload := bytes.Repeat([]byte{'z'}, n)
	switch {
	case sel&0xe0 == 0xe0:
		return in.bytes(int(in.byte() % 32)) // garbage
	case sel&0xe0 == 0xc0:
		payload = in.bytes(n) // maybe invalid UTF-8
	case op == opClose && n >= 2:
		binary.BigEndian.PutUint16(payload, 1000)
	}
	return clientFrame(op, fin, 0, sel&0xe0 != 0xa0, payload)
}

const testPreface = "HTTP/1.1 101 Switching Protocols\r\n\r\n"

// wire is what the socket took, parsed as server frames.
type wire struct {
	preface    string // what must come first, before any frame
	maxPayload int
	buf        []byte // bytes of a frame not yet whole
	closed     bool   // a close frame was written
	inMessage  bool
	msg        []byte
	dataFrames int
	sent       []string // the messages accepted, in order; the wire must carry a subsequence
}

// write takes at most limit bytes of out, checks them, and returns how
// many it took.
func (w *wire) write(t *testing.T, out [][]byte, limit int) int {
	n := 0
	for _, b := range out {
		b = b[:min(len(b), limit-n)]
		if len(b) > 0 && w.closed {
			t.Fatalf("%q written after the close frame", b)
		}
		n += len(b)
		for len(b) > 0 && len(w.preface) > 0 {
			if b[0] != w.preface[0] {
				t.Fatalf("%q written before the preface ended", b)
			}
			b, w.preface = b[1:], w.preface[1:]
		}
		w.buf = append(w.buf, b...)
		w.parse(t)
	}
	return n
}

func (w *wire) parse(t *testing.T) {
	for {
		h, ok := parseHeader(w.buf)
		if !ok || uint64(len(w.buf)-h.size) < h.length {
			return
		}
		if w.closed {
			t.Fatal("a frame after the close frame")
		}
		p := w.buf[h.size : h.size+int(h.length)]
		switch {
		case h.masked || h.rsv != 0:
			t.Fatalf("server frame with mask or reserved bits: %x", w.buf[:h.size])
		case isControl(h.opcode) && (h.length > maxControlPayload || !h.fin):
			t.Fatalf("bad control frame %x", w.buf[:h.size])
		case !isControl(h.opcode) && h.length > uint64(w.maxPayload):
			t.Fatalf("fragment of %d bytes over %d", h.length, w.maxPayload)
		}
		switch h.opcode {
		case opText, opContinuation:
			if (h.opcode == opText) == w.inMessage {
				t.Fatalf("opcode %d with a message in progress: %v", h.opcode, w.inMessage)
			}
			w.dataFrames++
			w.msg = append(w.msg, p...)
			w.inMessage = !h.fin
			if h.fin {
				if !utf8.Valid(w.msg) {
					t.Fatalf("invalid UTF-8 written: %q", w.msg)
				}
				// Dropped messages may be missing, but none is changed,
				// made up, or out of order.
				for len(w.sent) > 0 && w.sent[0] != string(w.msg) {
					w.sent = w.sent[1:]
				}
				if len(w.sent) == 0 {
					t.Fatalf("%q written, not accepted or out of order", w.msg)
				}
				w.sent = w.sent[1:]
				w.msg = w.msg[:0]
			}
		case opClose:
			w.closed = true
		case opPing, opPong:
		default:
			t.Fatalf("server frame with opcode %d", h.opcode)
		}
		w.buf = w.buf[h.size+int(h.length):]
	}
}

// FuzzReceiveSplit: however the client's bytes are cut into reads, the
// core sees the same events, answers with the same bytes and counts the
// same: no rule depends on where a read ends.
func FuzzReceiveSplit(f *testing.F) {
	f.Add(cat(text("hello"), cf(opPing, true, "p"), cf(opText, false, "a\xe2"), cf(opContinuation, true, "\x82\xac")), []byte{1, 7, 3})
	f.Add(cat(text("x"), cf(opBinary, true, "b")), []byte{2})
	f.Add(cat(cf(opText, false, "ab"), cf(opPong, true, ""), cclose(1000, "bye"), text("after")), []byte{5, 5, 5})
	f.Add(clientHeader(true, opText, 1<<20), []byte{3})
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		whole := replay(bytes.Clone(data), nil)
		cut := replay(bytes.Clone(data), cuts)
		if whole != cut {
			t.Fatalf("in one read:\n%s\nin reads cut at %v:\n%s", whole, cuts, cut)
		}
	})
}

// replay gives data to a Conn in reads of the given lengths (the rest in
// one) and describes everything that came of it.
func replay(data, cuts []byte) string {
	pool := newTestPool()
	c := New(&Config{MaxPayload: 64, Pool: pool}, 0)
	var log bytes.Buffer
	feed := func(p []byte) {
		for len(p) > 0 {
			n, ev := c.Receive(p)
			p = p[n:]
			if ev.Kind != None {
				log.WriteString(render(ev) + "\n")
			}
		}
	}
	for _, n := range cuts {
		n := min(int(n), len(data))
		feed(data[:n])
		data = data[n:]
	}
	feed(data)
	fmt.Fprintf(&log, "wrote %q\nstate %s, counters %+v\n", flush(c), c.State(), c.Counters())
	c.CloseNow()
	if pool.outstanding() != 0 {
		log.WriteString("buffers not given back\n")
	}
	return log.String()
}
