package main

import (
	"bufio"
	"io"
	"net"
	"sync"

	"github.com/gobwas/ws"
)

// gobwasConn is a connection driven with gobwas's low-level API: headers
// read and written by hand, payloads unmasked with ws.Cipher.
type gobwasConn struct {
	net.Conn
	mu sync.Mutex
	w  *bufio.Writer
}

func (c *gobwasConn) write(payload []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := ws.WriteHeader(c.w, ws.Header{Fin: true, OpCode: ws.OpText, Length: int64(len(payload))}); err != nil {
		return err
	}
	c.w.Write(payload)
	return c.w.Flush()
}

// writeCompiled writes a frame made once by ws.CompileFrame, gobwas's way to
// "precompile static frames which are often used".
func (c *gobwasConn) writeCompiled(frame []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.w.Write(frame)
	return c.w.Flush()
}

func serveGobwas(ul *net.UnixListener) error {
	var all registry[*gobwasConn]
	for {
		nc, err := ul.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer nc.Close()
			if _, err := ws.Upgrade(nc); err != nil {
				return
			}
			c := &gobwasConn{Conn: nc, w: bufio.NewWriter(nc)}
			all.add(c)
			defer all.remove(c)
			r := bufio.NewReader(nc)
			var buf []byte
			for {
				h, err := ws.ReadHeader(r)
				if err != nil {
					return
				}
				if int64(cap(buf)) < h.Length {
					buf = make([]byte, h.Length)
				}
				payload := buf[:h.Length]
				if _, err := io.ReadFull(r, payload); err != nil {
					return
				}
				if h.Masked {
					ws.Cipher(payload, h.Mask, 0)
				}
				switch h.OpCode {
				case ws.OpClose:
					return
				case ws.OpPing:
					c.mu.Lock()
					ws.WriteHeader(c.w, ws.Header{Fin: true, OpCode: ws.OpPong, Length: h.Length})
					c.w.Write(payload)
					c.w.Flush()
					c.mu.Unlock()
					continue
				case ws.OpText:
				default:
					continue
				}
				if gobwasBroadcast(&all, payload) {
					continue
				}
				if c.write(payload) != nil {
					return
				}
			}
		}()
	}
}

// gobwasBroadcast answers msg if it asks for a broadcast (see broadcast).
//
//go:noinline
func gobwasBroadcast(all *registry[*gobwasConn], msg []byte) bool {
	payload, prepared, ok := broadcast(msg)
	switch {
	case !ok:
		return false
	case prepared:
		f := ws.MustCompileFrame(ws.NewTextFrame(payload))
		all.each(func(o *gobwasConn) { o.writeCompiled(f) })
	default:
		all.each(func(o *gobwasConn) { o.write(payload) })
	}
	return true
}
