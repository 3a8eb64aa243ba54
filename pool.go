package dorrit

import (
	"sync"

	"github.com/dorritgo/dorrit/internal/protocol"
)

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

// A connection's queue of frames starts from a pooled array and gives it
// back as soon as it is empty: a connection that is not sending holds none,
// and a burst of pipelined answers does not grow a new slice each time.
var queuePool sync.Pool // of *protocol.QueueArray

// corePool lends the protocol core the buffers above; all connections
// share it (it has no state of its own, so the interface holds no pointer).
type corePool struct{}

func (corePool) Get(n int) *[]byte { return getBuf(n) }
func (corePool) Put(b *[]byte)     { putBuf(b) }

func (corePool) GetQueue() *protocol.QueueArray {
	if q, ok := queuePool.Get().(*protocol.QueueArray); ok {
		return q
	}
	return new(protocol.QueueArray)
}

func (corePool) PutQueue(q *protocol.QueueArray) { queuePool.Put(q) }
