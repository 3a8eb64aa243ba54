package main

import (
	"context"
	"net"
	"net/http"

	"github.com/coder/websocket"
)

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
			if isBroadcast(msg) {
				payload := msg[len(broadcastPrefix):]
				all.each(func(o *websocket.Conn) { o.Write(ctx, websocket.MessageText, payload) })
				continue
			}
			if c.Write(ctx, typ, msg) != nil {
				return
			}
		}
	}))
}
