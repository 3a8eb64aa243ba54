package main

import (
	"net"
	"net/http"
	"sync"

	"github.com/gorilla/websocket"
)

// gorillaConn serialises writes, which gorilla leaves to the application.
type gorillaConn struct {
	*websocket.Conn
	mu sync.Mutex
}

func (c *gorillaConn) write(typ int, msg []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.WriteMessage(typ, msg)
}

func (c *gorillaConn) writePrepared(pm *websocket.PreparedMessage) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.WritePreparedMessage(pm)
}

func serveGorilla(ul *net.UnixListener) error {
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	var all registry[*gorillaConn]
	return http.Serve(ul, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wc, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		c := &gorillaConn{Conn: wc}
		all.add(c)
		defer all.remove(c)
		defer c.Close()
		for {
			typ, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if gorillaBroadcast(&all, msg) {
				continue
			}
			if c.write(typ, msg) != nil {
				return
			}
		}
	}))
}

// gorillaBroadcast answers msg if it asks for a broadcast (see broadcast).
//
//go:noinline
func gorillaBroadcast(all *registry[*gorillaConn], msg []byte) bool {
	payload, prepared, ok := broadcast(msg)
	switch {
	case !ok:
		return false
	case prepared:
		// gorilla's documented way to send one message to many
		// connections: framed once, per connection options cached.
		pm, err := websocket.NewPreparedMessage(websocket.TextMessage, payload)
		if err == nil {
			all.each(func(o *gorillaConn) { o.writePrepared(pm) })
		}
	default:
		all.each(func(o *gorillaConn) { o.write(websocket.TextMessage, payload) })
	}
	return true
}
