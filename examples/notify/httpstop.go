package main

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// httpServer is an http.Server that stops without dropping a request it
// accepted. http.Server.Shutdown closes a connection whose request it has
// not read yet, which the client sees as EOF: under a steady stream of
// POST /notify, one upgrade in two lost a request that way. So stop first
// closes the listener, waits until every connection taken in has had its
// request read, and then shuts down.
type httpServer struct {
	srv      *http.Server
	listener net.Listener
	served   chan struct{}

	mu    sync.Mutex
	fresh map[net.Conn]struct{} // accepted, first request not read yet
}

func newHTTP(h http.Handler, l net.Listener) *httpServer {
	s := &httpServer{listener: l, served: make(chan struct{}), fresh: map[net.Conn]struct{}{}}
	s.srv = &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ConnState: s.track}
	return s
}

func (s *httpServer) serve() {
	defer close(s.served)
	s.srv.Serve(s.listener)
}

func (s *httpServer) track(c net.Conn, st http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st == http.StateNew {
		s.fresh[c] = struct{}{}
	} else {
		delete(s.fresh, c)
	}
}

// stop stops accepting and returns once every request taken was answered
// (or ctx ended).
func (s *httpServer) stop(ctx context.Context) {
	s.listener.Close()
	<-s.served // Serve has registered every connection it accepted
	for ctx.Err() == nil {
		s.mu.Lock()
		n := len(s.fresh)
		s.mu.Unlock()
		if n == 0 {
			break
		}
		time.Sleep(time.Millisecond) // as Shutdown polls
	}
	s.srv.Shutdown(ctx)
}
