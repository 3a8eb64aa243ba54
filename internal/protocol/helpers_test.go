package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// testPool is a Pool that knows which buffers are out, so that a test can
// check that every one came back.
type testPool struct {
	out    map[*[]byte]bool
	queues map[*QueueArray]bool
}

func newTestPool() *testPool {
	return &testPool{out: map[*[]byte]bool{}, queues: map[*QueueArray]bool{}}
}

func (p *testPool) Get(n int) *[]byte {
	b := make([]byte, 0, n)
	p.out[&b] = true
	return &b
}

func (p *testPool) Put(b *[]byte) {
	if !p.out[b] {
		panic("Put of a buffer that is not out")
	}
	delete(p.out, b)
}

func (p *testPool) GetQueue() *QueueArray {
	q := new(QueueArray)
	p.queues[q] = true
	return q
}

func (p *testPool) PutQueue(q *QueueArray) {
	if !p.queues[q] {
		panic("PutQueue of an array that is not out")
	}
	for _, f := range q {
		if f.buf != nil {
			panic("PutQueue of an array that still holds buffers")
		}
	}
	delete(p.queues, q)
}

func (p *testPool) outstanding() int { return len(p.out) + len(p.queues) }

// The client's masking key in the tables: not a palindrome, so that a
// byte unmasked with the wrong phase shows.
var testKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// cf is a client frame: masked, with the opcode and FIN bit given.
func cf(op byte, fin bool, payload string) []byte {
	return clientFrame(op, fin, 0, true, []byte(payload))
}

// clientHeader is the header alone of a client frame of n payload bytes.
func clientHeader(fin bool, op byte, n int) []byte {
	b := frameHeader(op, fin, 0, true, n)
	return append(b, testKey[:]...)
}

func clientFrame(op byte, fin bool, rsv byte, masked bool, payload []byte) []byte {
	b := frameHeader(op, fin, rsv, masked, len(payload))
	if !masked {
		return append(b, payload...)
	}
	b = append(b, testKey[:]...)
	for i, c := range payload {
		b = append(b, c^testKey[i%4])
	}
	return b
}

func frameHeader(op byte, fin bool, rsv byte, masked bool, n int) []byte {
	b := []byte{op | rsv}
	if fin {
		b[0] |= 0x80
	}
	var m byte
	if masked {
		m = 0x80
	}
	switch {
	case n < 126:
		b = append(b, m|byte(n))
	case n <= 0xffff:
		b = append(b, m|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, m|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return b
}

// text is a client's whole text message.
func text(s string) []byte { return cf(opText, true, s) }

// cclose is a client's close frame with a code and reason.
func cclose(code StatusCode, reason string) []byte {
	return cf(opClose, true, string(binary.BigEndian.AppendUint16(nil, uint16(code)))+reason)
}

// sf is a server frame.
func sf(op byte, fin bool, payload string) []byte {
	b := make([]byte, maxServerHeader+len(payload))
	return appendFrame(b[:0], fin, op, []byte(payload))
}

// stext is the server's whole text message; sclose its close frame.
func stext(s string) []byte { return sf(opText, true, s) }

func sclose(code StatusCode, reason string) []byte {
	return sf(opClose, true, string(binary.BigEndian.AppendUint16(nil, uint16(code)))+reason)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// step is one row of a table: client bytes or an application call, and
// what must come of it.
type step struct {
	in    []byte            // given to Receive, in pieces of split bytes when split > 0
	split int               //
	do    func(*Conn) error // an application or engine call
	err   error             // what do must return
	eof   bool              // ReceiveEOF
	want  []string          // the events, rendered by render
	out   []byte            // what Output then holds, all written (see hold)
	hold  bool              // leave the output unwritten
	state string            // the state after the step; "" is not checked
}

// render shows an event as the tables spell it.
func render(ev Event) string {
	switch ev.Kind {
	case Message:
		return "message " + string(ev.Message)
	case PeerClose:
		return fmt.Sprintf("close %d %s", ev.Code, ev.Reason)
	case Violation:
		return fmt.Sprintf("fail %d", ev.Code)
	case Hangup:
		return "hangup"
	}
	return "none"
}

// flush writes all of c's output, as an engine whose socket takes
// everything would, and returns it.
func flush(c *Conn) []byte {
	var all []byte
	for {
		var iov [16][]byte
		out := c.Output(iov[:0])
		if len(out) == 0 {
			return all
		}
		n := 0
		for _, b := range out {
			all = append(all, b...)
			n += len(b)
		}
		c.Wrote(n)
	}
}

// receive gives all of in to c and collects the events.
func receive(c *Conn, in []byte, split int) []string {
	var evs []string
	for len(in) > 0 {
		piece := in
		if split > 0 && len(piece) > split {
			piece = piece[:split]
		}
		in = in[len(piece):]
		for len(piece) > 0 {
			n, ev := c.Receive(piece)
			if n == 0 {
				panic("Receive took nothing")
			}
			piece = piece[n:]
			if ev.Kind != None {
				evs = append(evs, render(ev))
			}
		}
	}
	return evs
}

const testMaxPayload = 1000

// run plays a table on a fresh Conn and checks every step; at the end
// CloseNow must give every buffer back.
func run(t *testing.T, cfg Config, steps []step) *Conn {
	t.Helper()
	return runAt(t, cfg, 0, steps)
}

// runAt is run with the keepalive's clock at now when the Conn begins.
func runAt(t *testing.T, cfg Config, now uint32, steps []step) *Conn {
	t.Helper()
	pool := newTestPool()
	cfg.Pool = pool
	if cfg.MaxPayload == 0 {
		cfg.MaxPayload = testMaxPayload
	}
	c := New(&cfg, now)
	for i, s := range steps {
		var evs []string
		if s.in != nil {
			evs = receive(c, s.in, s.split)
		}
		if s.do != nil {
			if err := s.do(c); !errors.Is(err, s.err) {
				t.Fatalf("step %d: call returned %v, want %v", i, err, s.err)
			}
		}
		if s.eof {
			if ev := c.ReceiveEOF(); ev.Kind != None {
				evs = append(evs, render(ev))
			}
		}
		if strings.Join(evs, "; ") != strings.Join(s.want, "; ") {
			t.Fatalf("step %d: events %q, want %q", i, evs, s.want)
		}
		if !s.hold {
			if got := flush(c); !bytes.Equal(got, s.out) {
				t.Fatalf("step %d: wrote\n%q\nwant\n%q", i, got, s.out)
			}
		}
		if s.state != "" && c.State().String() != s.state {
			t.Fatalf("step %d: state %s, want %s", i, c.State(), s.state)
		}
	}
	c.CloseNow()
	if n := pool.outstanding(); n != 0 {
		t.Fatalf("%d buffers not given back after CloseNow", n)
	}
	return c
}

// write is a step's call of Write.
func write(s string) func(*Conn) error { return func(c *Conn) error { return c.Write([]byte(s)) } }
