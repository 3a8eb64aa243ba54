package main

import (
	"context"
	"errors"
	"net"
	"sync"

	"github.com/dorritgo/dorrit"
)

// client is one WebSocket connection.
type client struct {
	c *dorrit.MessageConn

	mu     sync.Mutex
	topics map[string]*topic // subscribed, or waiting for the broker to be

	dropOnce sync.Once
}

// serve is the accept loop: every connection gets its own goroutine. It
// returns once the listener is shut down and every handler has returned,
// so that the broker, closed after it, outlives every publish.
func (h *hub) serve(ctx context.Context, ln *dorrit.Listener) {
	var handlers sync.WaitGroup
	defer handlers.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			return // stopping: lifecycle shut the listener down
		}
		handlers.Go(func() { h.serveConn(ctx, c) })
	}
}

// serveConn reads a client's requests until it leaves. Messages of its
// topics are written to it by the fan-out, not by this goroutine.
func (h *hub) serveConn(ctx context.Context, c *dorrit.MessageConn) {
	cl := &client{c: c, topics: make(map[string]*topic)}
	h.mu.Lock()
	h.clients[cl] = struct{}{}
	h.mu.Unlock()
	defer func() {
		cl.mu.Lock()
		names := make([]string, 0, len(cl.topics))
		for name := range cl.topics {
			names = append(names, name)
		}
		cl.mu.Unlock()
		for _, name := range names {
			h.leave(cl, name)
		}
		h.mu.Lock()
		delete(h.clients, cl)
		h.mu.Unlock()
		c.Close() // delivers what is queued, unless the client was dropped
	}()
	for {
		msg, err := c.Read(ctx)
		if err != nil {
			return
		}
		r, err := parseRequest(msg)
		if err != nil {
			h.replyError(cl, r, err.Error())
			continue
		}
		switch r.Type {
		case "subscribe":
			h.subscribe(cl, r)
		case "unsubscribe":
			if h.leave(cl, r.Topic) {
				h.send(cl, encode(unsubscribedReply{Type: "unsubscribed", ID: r.ID, Topic: r.Topic}))
			} else {
				h.replyError(cl, r, "not subscribed to "+r.Topic)
			}
		case "publish":
			h.publish(ctx, cl, r)
		}
	}
}

// publish hands a message to the broker and acknowledges it with its
// offset, or says why it was not published.
func (h *hub) publish(ctx context.Context, cl *client, r request) {
	ctx, cancel := context.WithTimeout(ctx, brokerTimeout)
	defer cancel()
	p, err := h.broker.Publish(ctx, r.Topic, r.Data)
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() || errors.Is(err, errPerhapsSent):
		// The broker may have taken it and not answered in time, or the
		// connection failed after the command left.
		h.replyError(cl, r, "perhaps not published: "+err.Error()+"; subscribers get it if it was: publish again only if they did not")
		return
	case err != nil:
		h.replyError(cl, r, "not published: "+err.Error()+"; publish again once the broker is back")
		return
	}
	h.send(cl, encode(ackReply{Type: "ack", ID: r.ID, Topic: r.Topic, Epoch: p.Epoch, Offset: p.Offset}))
}

func (h *hub) replyError(cl *client, r request, msg string) {
	topic := r.Topic
	if checkTopic(topic) != nil {
		topic = "" // not a topic: echoing it back (60 KB, say) would help nobody
	}
	h.send(cl, encode(errorReply{Type: "error", ID: r.ID, Topic: topic, Error: msg}))
}

// send queues msg for cl without waiting. A client with 200 messages
// waiting does not keep up and is dropped: waiting for it would hold up
// every other subscriber of the topic.
func (h *hub) send(cl *client, msg []byte) { h.deliver(cl, cl.c.Write(msg)) }

// deliver acts on what a Write (or WritePrepared) to cl returned.
func (h *hub) deliver(cl *client, err error) {
	switch {
	case err == nil, errors.Is(err, dorrit.ErrClosed):
		// ErrClosed: leaving already; its handler cleans up.
	case errors.Is(err, dorrit.ErrQueueFull):
		h.drop(cl)
	default:
		h.log.Error("cannot write to a client", "id", cl.c.ID(), "err", err)
	}
}

// tooSlow is what a dropped subscriber is closed with.
const tooSlow = "too slow"

// drop closes a client that does not read fast enough.
func (h *hub) drop(cl *client) {
	cl.dropOnce.Do(func() {
		h.log.Info("dropping a client that does not keep up", "id", cl.c.ID(), "reason", tooSlow)
		// What is queued is dropped and 1008 goes next, so the client
		// learns why at once. Its own goroutine: the caller may hold a
		// topic's lock.
		go cl.c.Drop(dorrit.StatusPolicyViolation, tooSlow)
	})
}
