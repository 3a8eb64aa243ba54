package protocol

// A large message written while nothing else waits can go to the socket
// straight from the caller's slice, headers on the engine's stack; only
// what the socket does not take at once is copied into the queue. At
// 60 KiB the copy was a sixth of the CPU time of an echo.
const (
	DirectMin       = 1 << 10 // below this, copying is cheaper than the set-up
	DirectFragments = 4       // per writev; their headers and iovecs live on the engine's stack
)

// DirectHeaders is the room for a direct write's frame headers.
type DirectHeaders [DirectFragments][maxServerHeader]byte

// WriteDirect is Write for an engine that can write from the caller's
// slice. When msg is at least DirectMin bytes in at most DirectFragments
// fragments, nothing is queued and the engine is not corked (Cork), it
// checks and counts msg as Write does, queues nothing, and returns dst with
// the buffers that send it: headers in hdr, payload straight from msg. The
// engine writes them once without waiting and calls DirectWritten with
// what the socket took, before any other call on the Conn. Otherwise it
// is Write, and dst comes back as it was given.
func (c *Conn) WriteDirect(msg []byte, hdr *DirectHeaders, dst [][]byte) ([][]byte, error) {
	frames := framesOf(len(msg), int(c.maxPayload))
	if len(msg) < DirectMin || frames > DirectFragments || len(c.q) > 0 || c.batching || cap(dst)-len(dst) < 2*frames {
		return dst, c.Write(msg)
	}
	if err := c.admitMessage(msg); err != nil {
		return dst, err
	}
	c.direct = true
	op := byte(opText)
	for i, rest := 0, msg; ; i++ {
		n := min(len(rest), int(c.maxPayload))
		fin := n == len(rest)
		hl := putHeader(hdr[i][:], fin, op, n)
		dst = append(dst, hdr[i][:hl], rest[:n])
		if fin {
			return dst, nil
		}
		rest, op = rest[n:], opContinuation
	}
}

// DirectWritten tells the core that the socket took sent bytes of a
// direct write of msg. What it did not take is queued, copied, the frame
// cut in the middle first (its rest goes on from where it was cut).
func (c *Conn) DirectWritten(msg []byte, sent int) {
	if !c.direct {
		return
	}
	c.direct = false
	var hdr [maxServerHeader]byte
	op, off := byte(opText), 0
	for rest := msg; ; {
		n := min(len(rest), int(c.maxPayload))
		fin := n == len(rest)
		frameLen := putHeader(hdr[:], fin, op, n) + n
		if sent < off+frameLen {
			b := c.cfg.Pool.Get(frameLen)
			*b = append(append(*b, hdr[:frameLen-n]...), rest[:n]...)
			c.pushData(b, kindData)
			if sent > off {
				c.qoff = int32(sent - off)
			}
		}
		off += frameLen
		if fin {
			return
		}
		rest, op = rest[n:], opContinuation
	}
}
