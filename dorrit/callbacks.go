//go:build libdorrit && cgo && (linux || freebsd)

package main

/*
#include <stdlib.h>
#include <string.h>
void ws_call_init(void);
int ws_call_open(void *, char *, char *, char *);
void ws_call_read(void *, int, char *);
void ws_call_close(void *);
void ws_call_periodic(void *);
*/
import "C"

import (
	"context"
	"errors"
	"os"
	"sync"
	"unsafe"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/lifecycle"
)

// callbacks runs the server's C functions one at a time on one OS thread:
// C code written to the manual keeps its state in globals and is not
// thread-safe, and some of it (thread-local errno, a library that checks
// its thread) expects the one thread the original's event loop had.
type callbacks struct {
	*handoff

	mu    sync.Mutex
	conns map[unsafe.Pointer]*conn // by the pointer C holds
}

func newCallbacks() *callbacks {
	cb := &callbacks{handoff: newHandoff(), conns: make(map[unsafe.Pointer]*conn)}
	theCallbacks = cb
	go cb.loop()
	return cb
}

// do runs f on the callback thread and returns when it has returned.
func (cb *callbacks) do(f func()) {
	j := newJob()
	j.fn = f
	cb.call(j)
}

func (cb *callbacks) periodic() {
	cb.do(func() {
		if periodicFunc != nil {
			C.ws_call_periodic(periodicFunc)
		}
	})
}

// serve is the server process's accept loop (lifecycle.Server.Serve):
// ws_init_func again, for the globals the callbacks use (this process is
// the binary executed anew), then a goroutine per connection. It returns
// once every connection's close callback has run, so that a stop (SIGTERM)
// reaches each of them.
func (cb *callbacks) serve(ctx context.Context, ln *dorrit.Listener, cfg *lifecycle.Config) error {
	// Not for the programs the server starts: they may be other servers.
	os.Unsetenv(stateEnv)
	setConfigFile(cfg.ConfigFile)
	cb.do(func() {
		serverProcess = true
		C.ws_call_init()
	})
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		mc, err := ln.Accept()
		if err != nil {
			return nil // stopping: lifecycle shut the listener down
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cb.run(mc)
		}()
	}
}

// conn is one accepted connection as C sees it.
type conn struct {
	mc     *dorrit.MessageConn
	handle unsafe.Pointer // what C holds: a byte of C memory, unique while the connection lives
	buf    *C.char        // the read buffer: the last message and its zero byte
	bufCap int

	job *job // the connection's calls to the callback thread, one at a time

	// closing is set by ws_close_conn: nothing more reaches ws_read_callback.
	// Touched on the callback thread only.
	closing bool
}

// read runs the read callback for msg and then for each further message
// the connection has already received whole, in order: one hand-over to
// the callback thread for all the messages one read of the socket brought
// (some 30 of 128 B in a 4 KiB read). Each Read comes after the callback
// of the message before has returned, so a message is answered before a
// Read can take the client's close frame (see run); reading ahead of the
// callbacks lost those answers. Read with a done context returns a
// buffered message, or ctx.Err() without a system call: the thread never
// waits on a client. ws_close_conn stops the loop: nothing more is read.
//
// Measured with BenchmarkEcho (BENCHMARKS.md, three pairs of runs): a
// hand-over per message made 48k–49k echoes/s at 128 B on 1 connection
// and 91k–212k on 64; a hand-over per read, 310k–334k and 419k–678k.
// perf had put over half of the server's time in waking the locked
// thread and handing its P back and forth (startlockedm, stoplockedm,
// handoffp), not in the callbacks. On the callback thread.
func (c *conn) read(msg []byte) {
	for !c.closing {
		c.hold(msg)
		C.ws_call_read(c.handle, C.int(len(msg)), c.buf)
		var err error
		if msg, err = c.mc.Read(buffered); err != nil {
			return // nothing more buffered, or the connection is over: the reader's next Read says which
		}
	}
}

// buffered is a done context: Read with it returns only what is buffered.
var buffered = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// run serves one connection: open, a read callback per message, and the
// close callback exactly once when it has ended.
func (cb *callbacks) run(mc *dorrit.MessageConn) {
	c := &conn{mc: mc, handle: C.malloc(1), job: newJob()}
	c.job.conn = c
	defer c.free()
	cb.mu.Lock()
	cb.conns[c.handle] = c
	cb.mu.Unlock()
	var refused bool
	cb.do(func() {
		cookie, host, proto := C.CString(mc.Header().Get("Cookie")), C.CString(mc.Host()), C.CString(mc.Protocol())
		refused = C.ws_call_open(c.handle, cookie, host, proto) != 0
		C.free(unsafe.Pointer(cookie))
		C.free(unsafe.Pointer(host))
		C.free(unsafe.Pointer(proto))
	})
	if refused {
		mc.CloseNow()
		cb.forget(c)
		return
	}
	for {
		msg, err := mc.Read(context.Background())
		if err != nil {
			break
		}
		// The reader waits until the callback thread has run the read
		// callbacks of msg and of what came with it (conn.read): a message
		// must have been answered before the next Read, which may take the
		// client's close frame (or see a stop) and close the connection.
		// Handing messages over without waiting lost the answers to
		// messages that came with the client's close (TestEchoRules).
		c.job.msg = msg
		cb.call(c.job)
	}
	// Read ends when the connection ends, or when ws_close_conn or the
	// server's stop closes it gracefully: Close waits for that queue to
	// leave (or closes with 1000 after it) before the close callback.
	mc.Close()
	cb.do(func() { C.ws_call_close(c.handle) })
	cb.forget(c)
	mc.CloseNow() // the manual: the queue is freed once the close callback returns
}

// hold copies msg into the connection's C buffer, zero-terminated. The
// buffer grows to the largest message so far and is kept: the manual's
// buffer belongs to the connection and is overwritten by each message.
func (c *conn) hold(msg []byte) {
	if len(msg)+1 > c.bufCap {
		n := max(len(msg)+1, 2*c.bufCap, 64)
		p := C.realloc(unsafe.Pointer(c.buf), C.size_t(n))
		if p == nil {
			panic("libdorrit: out of memory for a read buffer") // C's malloc failed: nothing sane is left
		}
		c.buf, c.bufCap = (*C.char)(p), n
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(c.buf)), len(msg)+1)
	copy(b, msg)
	b[len(msg)] = 0
}

func (c *conn) free() {
	C.free(unsafe.Pointer(c.buf))
	C.free(c.handle)
}

func (cb *callbacks) forget(c *conn) {
	cb.mu.Lock()
	delete(cb.conns, c.handle)
	cb.mu.Unlock()
}

func (cb *callbacks) lookup(h unsafe.Pointer) *conn {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	return cb.conns[h]
}

// theCallbacks is the process's callbacks, for the functions C calls.
var theCallbacks *callbacks

//export ws_write_conn
func ws_write_conn(h unsafe.Pointer, n C.int, data *C.char) C.int {
	if n < 1 {
		return -2
	}
	c := theCallbacks.lookup(h)
	if c == nil || data == nil {
		return -1
	}
	// Write copies msg into the queue before it returns.
	err := c.mc.Write(unsafe.Slice((*byte)(unsafe.Pointer(data)), int(n)))
	switch {
	case err == nil:
		return 0
	case errors.Is(err, dorrit.ErrInvalidUTF8):
		return -3
	}
	return -1 // dorrit.ErrQueueFull, ErrMessageTooLarge or ErrClosed

}

//export ws_close_conn
func ws_close_conn(h unsafe.Pointer, force C.int) {
	c := theCallbacks.lookup(h)
	if c == nil {
		return
	}
	c.closing = true // ws_close_conn is called on the callback thread, from a callback
	if force != 0 {
		c.mc.CloseNow()
		return
	}
	// Close waits for the queue to leave; the callback must not. The
	// connection's goroutine waits for the end before the close callback.
	go c.mc.Close()
}
