package main

import (
	"bytes"
	"net"
	"sort"
	"sync"
)

// A server echoes every text message on the connection it came from, and
// sends the payload of a message starting with broadcastPrefix or
// preparedPrefix to every connection it holds (the fan-out workloads). Each
// one is written the way its library's users write it.
type server func(ln *net.UnixListener) error

var servers = map[string]server{
	"dorrit":  serveDorrit,
	"coder":   serveCoder,
	"gorilla": serveGorilla,
	"gws":     serveGws,
	"gobwas":  serveGobwas,
	"raw":     serveRaw,
}

// serverOrder is the order of the table: dorrit first, the floor last.
var serverOrder = []string{"dorrit", "coder", "gorilla", "gws", "gobwas", "raw"}

const (
	// broadcastPrefix asks for the rest of the message to be written to
	// every connection with the library's ordinary write, once per
	// connection.
	broadcastPrefix = "broadcast:"
	// preparedPrefix asks for the same through the library's way of
	// framing a message once for many connections.
	preparedPrefix = "prepared:"
)

// preparedServers have a way to frame a message once for many connections
// (coder has none); only they run the prepared fan-out.
var preparedServers = []string{"dorrit", "gorilla", "gws", "gobwas"}

// broadcast tells whether msg asks for a broadcast, of which payload, and
// whether it is to be prepared.
//
// Each server answers a broadcast in a function of its own, kept out of its
// read loop with go:noinline. Every idle connection's goroutine holds the
// loop's frame; with the broadcast inlined, dorrit's loop frame grew from
// 160 to 248 bytes and a quick run's idle memory from 5.05 to 7.1 KiB per
// connection (2 KiB: a goroutine stack doubling, by the look of it): a cost
// of this harness, not of any library, and not in the loops their users
// write.
func broadcast(msg []byte) (payload []byte, prepared, ok bool) {
	if p, ok := bytes.CutPrefix(msg, []byte(broadcastPrefix)); ok && len(p) > 0 {
		return p, false, true
	}
	if p, ok := bytes.CutPrefix(msg, []byte(preparedPrefix)); ok && len(p) > 0 {
		return p, true, true
	}
	return nil, false, false
}

// registry holds a server's connections for the fan-out workload.
type registry[C comparable] struct {
	mu    sync.Mutex
	conns map[C]struct{}
}

func (r *registry[C]) add(c C) {
	r.mu.Lock()
	if r.conns == nil {
		r.conns = map[C]struct{}{}
	}
	r.conns[c] = struct{}{}
	r.mu.Unlock()
}

func (r *registry[C]) remove(c C) {
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
}

func (r *registry[C]) each(f func(C)) {
	r.mu.Lock()
	all := make([]C, 0, len(r.conns))
	for c := range r.conns {
		all = append(all, c)
	}
	r.mu.Unlock()
	for _, c := range all {
		f(c)
	}
}

func serverNames() []string {
	names := make([]string, 0, len(servers))
	for n := range servers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
