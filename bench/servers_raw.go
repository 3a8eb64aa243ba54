package main

import (
	"net"
)

// serveRaw echoes bytes with no framing at all: the floor of a unix socket
// on this machine. Like dorrit, it holds no large buffer while a connection
// is idle: the 64 KiB one comes with the first byte.
func serveRaw(ul *net.UnixListener) error {
	for {
		c, err := ul.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			buf := make([]byte, 1)
			for {
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				if _, err := c.Write(buf[:n]); err != nil {
					return
				}
				if len(buf) == 1 {
					buf = make([]byte, 64<<10)
				}
			}
		}()
	}
}
