package protocol

// A Pool lends the core its buffers. The core keeps no buffer of its own
// while a connection is idle: it borrows one when a frame arrives in pieces
// or a message is queued, and hands it back once the frame is assembled or
// written. The goroutine engine backs a Pool with sync.Pool (shared by all
// connections); an event loop can keep plain free lists, without locks,
// because only its own goroutine calls its connections' cores.
//
// Pool's methods are called only from inside the core's methods.
type Pool interface {
	// Get returns a buffer of length 0 and capacity at least n.
	Get(n int) *[]byte
	// Put takes back a buffer Get returned; the core no longer uses it.
	Put(b *[]byte)
	// GetQueue and PutQueue lend the array a queue of frames starts from,
	// so that a connection with nothing to send holds none and a burst of
	// answers does not allocate one.
	GetQueue() *QueueArray
	PutQueue(q *QueueArray)
}

// QueueLen is how many frames a pooled QueueArray holds: a corked batch of
// answers (32) fits without growing. A queue that grows past it (a slow
// client) leaves the pool's array behind and is left to the GC when it
// empties.
const QueueLen = 32

// A QueueArray is the storage a Pool lends for a queue of frames. Its
// contents are the core's; a Pool only keeps the pointers (new(QueueArray)
// makes one).
type QueueArray [QueueLen]queued
