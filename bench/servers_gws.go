package main

import (
	"net"

	"github.com/lxzan/gws"
)

// gwsHandler is gws's event API, as its README shows it.
type gwsHandler struct {
	gws.BuiltinEventHandler
	all registry[*gws.Conn]
}

func (h *gwsHandler) OnOpen(c *gws.Conn)             { h.all.add(c) }
func (h *gwsHandler) OnClose(c *gws.Conn, err error) { h.all.remove(c) }

func (h *gwsHandler) OnPing(c *gws.Conn, payload []byte) { c.WritePong(payload) }

func (h *gwsHandler) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	msg := m.Bytes()
	if payload, prepared, ok := broadcast(msg); ok {
		if prepared {
			// gws's README broadcasts this way: framed once, each
			// connection's write queued on its own writer.
			b := gws.NewBroadcaster(gws.OpcodeText, payload)
			defer b.Close()
			h.all.each(func(o *gws.Conn) { b.Broadcast(o) })
		} else {
			h.all.each(func(o *gws.Conn) { o.WriteMessage(gws.OpcodeText, payload) })
		}
		return
	}
	c.WriteMessage(m.Opcode, msg)
}

func serveGws(ul *net.UnixListener) error {
	return gws.NewServer(&gwsHandler{}, nil).RunListener(ul)
}
