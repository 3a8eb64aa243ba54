package protocol_test

import (
	"fmt"

	"github.com/dorritgo/dorrit/internal/protocol"
)

// pool is the simplest Pool: it allocates and lets the GC collect. An
// engine keeps free lists or a sync.Pool instead.
type pool struct{}

func (pool) Get(n int) *[]byte              { b := make([]byte, 0, n); return &b }
func (pool) Put(*[]byte)                    {}
func (pool) GetQueue() *protocol.QueueArray { return new(protocol.QueueArray) }
func (pool) PutQueue(*protocol.QueueArray)  {}

// An engine drives a Conn: bytes read go to Receive until it has taken
// them all, events go to the application, and Output goes to the socket.
// Here the client's bytes are a masked "hello" and its close frame; the
// application echoes every message.
func Example() {
	c := protocol.New(&protocol.Config{MaxPayload: 65535, Pool: pool{}}, 0)
	read := []byte{
		0x81, 0x85, 1, 2, 3, 4, 'h' ^ 1, 'e' ^ 2, 'l' ^ 3, 'l' ^ 4, 'o' ^ 1, // text "hello", masked
		0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8, // close 1000
	}
	var socket []byte
	for p := read; len(p) > 0; {
		n, ev := c.Receive(p)
		p = p[n:]
		switch ev.Kind {
		case protocol.Message:
			fmt.Printf("message %q\n", ev.Message)
			c.Write(ev.Message) // the echo
		case protocol.PeerClose:
			fmt.Println("client closed with", ev.Code)
		}
	}
	var iov [16][]byte
	for out := c.Output(iov[:0]); len(out) > 0; out = c.Output(iov[:0]) {
		n := 0
		for _, b := range out {
			socket = append(socket, b...) // a writev that takes everything
			n += len(b)
		}
		c.Wrote(n)
	}
	fmt.Printf("wrote % x\n", socket)
	fmt.Println("state", c.State())
	c.CloseNow()
	// Output:
	// message "hello"
	// client closed with 1000
	// wrote 81 05 68 65 6c 6c 6f 88 02 03 e8
	// state closed
}
