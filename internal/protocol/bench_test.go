package protocol

import (
	"strings"
	"testing"
)

// freePool is a Pool of free lists, as an event loop would keep one: no
// locks, no allocation once warm.
type freePool struct {
	bufs   map[int][]*[]byte
	queues []*QueueArray
}

var classes = [...]int{256, 4 << 10, 16 << 10, 64<<10 + 64}

func (p *freePool) Get(n int) *[]byte {
	for _, size := range classes {
		if n <= size {
			if l := p.bufs[size]; len(l) > 0 {
				b := l[len(l)-1]
				p.bufs[size] = l[:len(l)-1]
				*b = (*b)[:0]
				return b
			}
			b := make([]byte, 0, size)
			return &b
		}
	}
	b := make([]byte, 0, n)
	return &b
}

func (p *freePool) Put(b *[]byte) {
	if c := cap(*b); c <= classes[len(classes)-1] {
		p.bufs[c] = append(p.bufs[c], b)
	}
}

func (p *freePool) GetQueue() *QueueArray {
	if len(p.queues) > 0 {
		q := p.queues[len(p.queues)-1]
		p.queues = p.queues[:len(p.queues)-1]
		return q
	}
	return new(QueueArray)
}

func (p *freePool) PutQueue(q *QueueArray) { p.queues = append(p.queues, q) }

func newFreePool() *freePool { return &freePool{bufs: map[int][]*[]byte{}} }

var sizes = []struct {
	name string
	n    int
}{{"128B", 128}, {"4KiB", 4 << 10}}

// BenchmarkReceive: one client message through the frame engine, whole in
// one read (the bytes are masked afresh each time, as a read would bring
// them).
func BenchmarkReceive(b *testing.B) {
	for _, size := range sizes {
		b.Run(size.name, func(b *testing.B) {
			frame := text(strings.Repeat("m", size.n))
			buf := make([]byte, len(frame))
			c := New(&Config{MaxPayload: 65535, Pool: newFreePool()}, 0)
			b.SetBytes(int64(size.n))
			b.ReportAllocs()
			for b.Loop() {
				copy(buf, frame)
				if _, ev := c.Receive(buf); ev.Kind != Message {
					b.Fatal(ev)
				}
			}
		})
	}
}

// BenchmarkReceivePieces: the same message arriving in two reads, so that
// the core assembles it in a pooled buffer.
func BenchmarkReceivePieces(b *testing.B) {
	for _, size := range sizes {
		b.Run(size.name, func(b *testing.B) {
			frame := text(strings.Repeat("m", size.n))
			buf := make([]byte, len(frame))
			c := New(&Config{MaxPayload: 65535, Pool: newFreePool()}, 0)
			b.SetBytes(int64(size.n))
			b.ReportAllocs()
			for b.Loop() {
				copy(buf, frame)
				half := len(buf) / 2
				c.Receive(buf[:half])
				if _, ev := c.Receive(buf[half:]); ev.Kind != Message {
					b.Fatal(ev)
				}
			}
		})
	}
}

// BenchmarkWrite: one Write, then its Output written whole.
func BenchmarkWrite(b *testing.B) {
	for _, size := range sizes {
		b.Run(size.name, func(b *testing.B) {
			msg := []byte(strings.Repeat("w", size.n))
			c := New(&Config{MaxPayload: 65535, Pool: newFreePool()}, 0)
			var iov [16][]byte
			b.SetBytes(int64(size.n))
			b.ReportAllocs()
			for b.Loop() {
				if err := c.Write(msg); err != nil {
					b.Fatal(err)
				}
				takeOutput(c, iov[:0])
			}
		})
	}
}

// BenchmarkEcho: a message in, the same message out, as an echo server's
// engine drives the core.
func BenchmarkEcho(b *testing.B) {
	for _, size := range sizes {
		b.Run(size.name, func(b *testing.B) {
			frame := text(strings.Repeat("e", size.n))
			buf := make([]byte, len(frame))
			c := New(&Config{MaxPayload: 65535, Pool: newFreePool()}, 0)
			var iov [16][]byte
			b.SetBytes(int64(size.n))
			b.ReportAllocs()
			for b.Loop() {
				copy(buf, frame)
				_, ev := c.Receive(buf)
				if err := c.Write(ev.Message); err != nil {
					b.Fatal(err)
				}
				takeOutput(c, iov[:0])
			}
		})
	}
}

// takeOutput has c's output written whole, as a socket that takes
// everything would, without keeping it (flush keeps it, and allocates).
func takeOutput(c *Conn, iov [][]byte) {
	n := 0
	for _, p := range c.Output(iov) {
		n += len(p)
	}
	c.Wrote(n)
}
