package dorrit

import (
	"bufio"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"unique"

	"github.com/dorritgo/dorrit/internal/protocol"
)

// A MessageConn is one upgraded WebSocket connection that exchanges text
// messages. Read may be called by one goroutine at a time; Write,
// WriteContext, Close, CloseNow and the accessors are safe from any goroutine.
//
// The dorrit rules run underneath: pings are answered while Read waits or
// before it returns the next message, binary messages and oversize frames
// drop the connection, and outgoing messages wait in a queue bounded to
// MaxQueuedFrames frames. An idle connection holds no buffer.
type MessageConn struct {
	id         uint64
	nc         *net.UnixConn
	raw        syscall.RawConn
	ln         *Listener
	info       *connInfo // nil when nothing else was forwarded and Authorize gave no value
	host       string
	requestURI string
	protocol   string

	// Lock order: readMu, then mu, then the listener's mu (which Stats
	// holds while it takes each connection's mu to read its counters, so
	// a connection forgets itself only after releasing mu: see unlock).
	// No RawConn callback takes mu, so the socket may be closed under it.

	// mu guards the core (every call into it), the flags below and done.
	// Writes go to the socket under mu, one non-blocking writev at a time;
	// only a flusher goroutine (while the client is slow) waits, without mu.
	mu   sync.Mutex
	core protocol.Conn

	// The reading goroutine's (Read, CloseRead's, a lingering close),
	// owned by whoever holds readMu.
	readMu  sync.Mutex
	rbuf    *[]byte // pooled, nil while no bytes wait; unread bytes are (*rbuf)[rr:]
	rr      int32
	rn      int32                 // result of the last read system call
	rclass  uint8                 // size class of the next read buffer: larger after a read filled one
	rerr    error                 // the last read system call's error
	readErr *CloseError           // sticky: the connection is over for reading
	readFn  func(fd uintptr) bool // bound once so that waiting does not allocate

	fd int32 // the socket, written under mu (only finish closes it, under mu)

	// Under mu. answered: the 101 has been let go (it waits in the queue
	// until the application first reads, writes or closes). given: Read
	// returned a message and the handler has not called Read again, so it
	// may still be answering it (Shutdown waits for that). corked: Read has
	// more messages buffered; Writes wait to leave together (cork.go).
	// flushing: a flusher goroutine owns the rest of the queue. shut: the
	// write side is shut after the close frame. lingering: a goroutine
	// reads out the linger. readWaiting, interrupted, readClosed,
	// discarding: the deadline handshake between a waiting Read and whoever
	// interrupts it (read.go). closeLeft: the server's close frame has
	// left. forgetPending: the connection ended; the listener forgets it
	// once mu is released.
	answered, given, corked, flushing, shut, lingering bool
	readWaiting, interrupted, readClosed, discarding   bool
	closeLeft, forgetPending                           bool

	wx   *writeExtra
	end  atomic.Pointer[CloseError] // why the connection ended, set before done closes
	done chan struct{}              // made by the first Done, guarded by mu
}

// ID is unique among the connections of a process.
func (c *MessageConn) ID() uint64 { return c.id }

// connInfo is what a connection keeps of its upgrade request beyond the
// host, path and protocol.
type connInfo struct {
	header string // the request's other header lines (see forwardedHeader)
	value  any    // what Options.Authorize returned
}

// Value is what Options.Authorize returned for this connection (the user,
// a session), nil without Authorize. It is set before Accept hands the
// connection out and never changes, so any goroutine may read it.
func (c *MessageConn) Value() any {
	if c.info == nil {
		return nil
	}
	return c.info.value
}

// Cookie returns the named cookie of the forwarded request, as net/http's
// Request.Cookie does, or http.ErrNoCookie. The raw header is
// Header().Get("Cookie").
func (c *MessageConn) Cookie(name string) (*http.Cookie, error) {
	r := http.Request{Header: http.Header{"Cookie": c.headerValues("Cookie")}}
	return r.Cookie(name)
}

// Host is the virtual host the client asked for: the forwarded Host header.
func (c *MessageConn) Host() string { return c.host }

// Protocol is the negotiated sub-protocol, "" when none was chosen.
func (c *MessageConn) Protocol() string { return c.protocol }

// Header is the forwarded upgrade request's header, without the fields of
// the handshake itself (Upgrade, Connection, Sec-WebSocket-Key and
// -Version): nil when nothing else was forwarded, which Get and range read
// as empty. It is parsed on each call from the lines kept since the
// handshake, so the caller owns the result; read it once if you need it
// often.
func (c *MessageConn) Header() http.Header {
	if c.info == nil || c.info.header == "" {
		return nil
	}
	h, _ := textproto.NewReader(bufio.NewReader(strings.NewReader(c.info.header + "\r\n\r\n"))).ReadMIMEHeader()
	return http.Header(h) // the lines were parsed once at the handshake: no error
}

// headerValues is Header().Values(key) without parsing every line; key is canonical.
func (c *MessageConn) headerValues(key string) []string {
	if c.info == nil {
		return nil
	}
	var vs []string
	for line := range strings.SplitSeq(c.info.header, "\r\n") {
		if k, v, ok := strings.Cut(line, ": "); ok && k == key {
			vs = append(vs, v)
		}
	}
	return vs
}

// URL is the path and query of the forwarded upgrade request, e.g.
// /chat?room=1. Only the header and this string are kept after the
// handshake, to keep idle connections small; the URL is parsed on each call.
func (c *MessageConn) URL() *url.URL {
	u, err := url.ParseRequestURI(c.requestURI)
	if err != nil {
		return &url.URL{Path: c.requestURI} // checked by the handshake; cannot happen
	}
	return u
}

// Done is closed once the connection has ended, whichever side ended it.
// The end is noticed only while the handler sits in Read or has called
// CloseRead; a handler that only writes must call CloseRead.
func (c *MessageConn) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		if c.end.Load() != nil {
			close(c.done)
		}
	}
	return c.done
}

// Err tells why the connection ended, or nil while it is open.
func (c *MessageConn) Err() error {
	if why := c.end.Load(); why != nil {
		return why
	}
	return nil
}

// newMessageConn makes the connection with answer, the 101, first in its queue.
func newMessageConn(ln *Listener, nc *net.UnixConn, req *http.Request, subprotocol string, early []byte, value any, answer *[]byte) (*MessageConn, error) {
	raw, err := nc.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd := -1
	if err := raw.Control(func(s uintptr) { fd = int(s) }); err != nil {
		return nil, err
	}
	c := &MessageConn{
		id:         connIDs.Add(1),
		nc:         nc,
		raw:        raw,
		ln:         ln,
		info:       newConnInfo(req.Header, value),
		host:       unique.Make(req.Host).Value(), // one copy per virtual host, not per connection
		requestURI: req.RequestURI,
		protocol:   subprotocol,
		fd:         int32(fd),
	}
	c.core.Init(&ln.core, ln.clock.Load())
	// The other callbacks and channels are made on first use: an idle
	// connection only ever waits to read.
	c.readFn = c.readSome
	c.core.Preface(answer)
	if len(early) > 0 {
		// The client sent frames right behind its upgrade request.
		b := getBuf(max(len(early), readChunk))
		*b = append(*b, early...)
		c.rbuf = b
	}
	return c, nil
}

// finish ends the connection once, with mu held: the socket closes, the
// core frees what it holds, Done closes, and the listener forgets the
// connection when mu is released (unlock). It reports how many queued
// data frames were dropped, and whether this call did the ending. The
// socket may close under mu because no RawConn callback takes it.
func (c *MessageConn) finish(why *CloseError) (dropped int, ours bool) {
	if c.end.Load() != nil {
		return 0, false
	}
	c.core.DetachMessage() // the application may still hold the last message
	dropped = c.core.CloseNow()
	c.nc.Close()
	c.end.Store(why)
	if c.done != nil {
		close(c.done)
	}
	c.wakeWaiters()
	c.forgetPending = true
	return dropped, true
}

// unlock releases mu; a connection that ended under it is forgotten by
// the listener after, with the counters it ended with.
func (c *MessageConn) unlock() {
	if !c.forgetPending {
		c.mu.Unlock()
		return
	}
	c.unlockEnded()
}

// unlockEnded is unlock for a connection that just ended.
//
//go:noinline
func (c *MessageConn) unlockEnded() {
	c.forgetPending = false
	cs := c.core.Counters()
	c.mu.Unlock()
	c.ln.forget(c, &cs)
}

// forwardedHeader keeps what the application may want of the request's
// header as one block of "Key: value" lines: the handshake's own fields
// are spent, and a map of many small headers costs several times their
// size for the connection's whole life (7 KB of the headers a front server
// and a browser send cost 29 KiB per idle connection as a map, 12 KiB as
// one string; BENCHMARKS.md).
func newConnInfo(h http.Header, value any) *connInfo {
	header := forwardedHeader(h)
	if header == "" && value == nil {
		return nil // reads like an empty header, costs nothing
	}
	return &connInfo{header: header, value: value}
}

// forwardedHeader is h's lines but the handshake's own, "" if none.
func forwardedHeader(h http.Header) string {
	n := 0
	for k, vs := range h {
		if !handshakeField(k) {
			for _, v := range vs {
				n += len(k) + len(": \r\n") + len(v)
			}
		}
	}
	if n == 0 {
		return ""
	}
	var b strings.Builder
	b.Grow(n)
	for k, vs := range h {
		if !handshakeField(k) {
			for _, v := range vs {
				b.WriteString(k)
				b.WriteString(": ")
				b.WriteString(v)
				b.WriteString("\r\n")
			}
		}
	}
	return strings.TrimSuffix(b.String(), "\r\n")
}

func handshakeField(k string) bool {
	switch k {
	case "Upgrade", "Connection", "Sec-Websocket-Key", "Sec-Websocket-Version":
		return true
	}
	return false
}
