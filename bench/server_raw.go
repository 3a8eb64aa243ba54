package main

import (
	"net"
)

// serveRaw echoes bytes with no framing at all: the physical floor of a
// unix socket on this machine.
func serveRaw(ul *net.UnixListener) error {
	for {
		c, err := ul.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			buf := make([]byte, 4<<10)
			for {
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				if _, err := c.Write(buf[:n]); err != nil {
					return
				}
			}
		}()
	}
}
