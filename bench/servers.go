package main

import (
	"net"
	"sort"
	"sync"
)

// A server echoes every text message on the connection it came from, and
// sends the payload of a message starting with broadcastPrefix to every
// connection it holds (the fan-out workload). Each one is written the way
// its library's users write it.
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

const broadcastPrefix = "broadcast:"

func isBroadcast(msg []byte) bool {
	return len(msg) > len(broadcastPrefix) && string(msg[:len(broadcastPrefix)]) == broadcastPrefix
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
