package main

import (
	"context"
	"net"

	"github.com/dorritgo/dorrit"
)

func serveDorrit(ul *net.UnixListener) error {
	ln, err := dorrit.Listen(dorrit.Options{Listener: ul, MaxConns: 1 << 20})
	if err != nil {
		return err
	}
	var all registry[*dorrit.MessageConn]
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		all.add(c)
		go func() {
			defer all.remove(c)
			defer c.Close()
			for {
				msg, err := c.Read(context.Background())
				if err != nil {
					return
				}
				if isBroadcast(msg) {
					payload := msg[len(broadcastPrefix):]
					all.each(func(o *dorrit.MessageConn) { o.Write(payload) })
					continue
				}
				if c.Write(msg) != nil {
					return
				}
			}
		}()
	}
}
