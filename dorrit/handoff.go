//go:build libdorrit && cgo && (linux || freebsd)

package main

import "runtime"

// A job is one call waiting for the callback thread: fn, or, when fn is
// nil, the read callbacks of conn from msg on (conn.read).
//
// A connection reuses its job, channel included, so that a hand-over
// allocates nothing; the closure, the channel and the wrapper the thread
// ran before cost three allocations per message.
type job struct {
	fn   func()
	conn *conn
	msg  []byte
	done chan struct{} // buffered 1: the thread never waits on it
}

func newJob() *job { return &job{done: make(chan struct{}, 1)} }

// maxPending is how many jobs may wait for the callback thread before
// handing one over blocks; each connection has at most one waiting.
// Measured with BenchmarkEcho (128 B, 64 connections pipelining 64), a
// hand-over per message: 141k–151k echoes/s against 108k–191k unbuffered,
// three runs each: steadier, if no faster.
const maxPending = 256

// handoff carries jobs to the callback thread, one goroutine locked to
// one OS thread, which runs them one at a time in the order they came.
// A slice the thread took whole, waking it only when it slept, did no
// better than the channel (BENCHMARKS.md).
type handoff struct {
	jobs chan *job
}

func newHandoff() *handoff { return &handoff{jobs: make(chan *job, maxPending)} }

// call runs j on the callback thread and returns when it has run; j is
// the caller's again then.
func (h *handoff) call(j *job) {
	h.jobs <- j
	<-j.done
}

// loop is the callback thread.
func (h *handoff) loop() {
	runtime.LockOSThread() // never unlocked: the thread is the callbacks' alone
	for j := range h.jobs {
		if j.fn != nil {
			j.fn()
		} else {
			j.conn.read(j.msg)
		}
		j.done <- struct{}{}
	}
}
