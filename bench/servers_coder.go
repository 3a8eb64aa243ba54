package main

import (
	"context"
	"net"
	"net/http"

	"github.com/coder/websocket"
)

// serveCoder has no prepared broadcast: coder has no API to frame a message
// once for many connections, and the prepared fan-out skips it.
func serveCoder(ul *net.UnixListener) error {
	var all registry[*websocket.Conn]
	return http.Serve(ul, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		c.SetReadLimit(-1)
		all.add(c)
		defer all.remove(c)
		defer c.CloseNow()
		ctx := context.Background()
		for {
			typ, msg, err := c.Read(ctx)
			if err != nil {
				return
			}
			if coderBroadcast(&all, msg) {
				continue
			}
			if c.Write(ctx, typ, msg) != nil {
				return
			}
		}
	}))
}

// coderBroadcast answers msg if it asks for a broadcast (see broadcast).
//
//go:noinline
func coderBroadcast(all *registry[*websocket.Conn], msg []byte) bool {
	payload, _, ok := broadcast(msg)
	if ok {
		all.each(func(o *websocket.Conn) { o.Write(context.Background(), websocket.MessageText, payload) })
	}
	return ok
}
