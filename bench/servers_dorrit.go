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
				if dorritBroadcast(&all, msg) {
					continue
				}
				if c.Write(msg) != nil {
					return
				}
			}
		}()
	}
}

// dorritBroadcast answers msg if it asks for a broadcast (see broadcast).
//
//go:noinline
func dorritBroadcast(all *registry[*dorrit.MessageConn], msg []byte) bool {
	payload, prepared, ok := broadcast(msg)
	switch {
	case !ok:
		return false
	case prepared:
		pm := dorrit.NewPreparedMessage(payload)
		all.each(func(o *dorrit.MessageConn) { o.WritePrepared(pm) })
	default:
		all.each(func(o *dorrit.MessageConn) { o.Write(payload) })
	}
	return true
}
