package dorrit

import "sync"

// Buffers come from a few size classes shared by all connections, so that
// memory follows the traffic in flight rather than the number of connections.
var bufClasses = [...]int{256, 4 << 10, 16 << 10, 64<<10 + 64}

var bufPools [len(bufClasses)]sync.Pool

// getBuf returns a buffer with room for at least n bytes, length 0.
func getBuf(n int) *[]byte {
	for i, size := range bufClasses {
		if n <= size {
			if b, ok := bufPools[i].Get().(*[]byte); ok {
				*b = (*b)[:0]
				return b
			}
			b := make([]byte, 0, size)
			return &b
		}
	}
	b := make([]byte, 0, n) // larger than any class: used once, left to the GC
	return &b
}

// putBuf hands b back for reuse. b must not be used afterwards.
func putBuf(b *[]byte) {
	if b == nil {
		return
	}
	c := cap(*b)
	for i, size := range bufClasses {
		if c == size {
			bufPools[i].Put(b)
			return
		}
	}
}

// A connection's queue of frames comes from a pool as well and goes back as
// soon as it is empty: a connection that is not sending holds none, and a
// burst of pipelined answers does not grow a new slice each time.
const queueCap = corkMaxFrames // a corked batch fits without growing

var queuePool sync.Pool // of *[queueCap]outFrame

func getQueue() []outFrame {
	if q, ok := queuePool.Get().(*[queueCap]outFrame); ok {
		return q[:0]
	}
	return make([]outFrame, 0, queueCap)
}

// putQueue hands back an empty, cleared queue. One that grew beyond
// queueCap while a client was slow is left to the GC.
func putQueue(q []outFrame) {
	if cap(q) == queueCap {
		queuePool.Put((*[queueCap]outFrame)(q[:queueCap]))
	}
}
