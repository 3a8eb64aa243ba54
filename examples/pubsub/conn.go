package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/dorritgo/dorrit"
)

// client is one WebSocket connection.
type client struct {
	c   *dorrit.MessageConn
	out *outbox

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
	cl := &client{c: c, out: newOutbox(c), topics: make(map[string]*topic)}
	go cl.out.run()
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
		// A client that does not read its replies is not read from
		// either: a pipelining publisher goes at the pace it reads acks.
		wctx, cancel := context.WithTimeout(ctx, replyWait)
		ok := cl.out.waitRoom(wctx, false)
		cancel()
		if !ok && ctx.Err() == nil {
			h.drop(cl, fmt.Sprintf("has not read its replies for %v", replyWait))
			return
		}
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
				h.reply(cl, encode(unsubscribedReply{Type: "unsubscribed", ID: r.ID, Topic: r.Topic}))
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
	case errors.Is(err, errTooManyTopics):
		h.replyError(cl, r, "not published: "+err.Error())
		return
	case err != nil:
		h.replyError(cl, r, "not published: "+err.Error()+"; publish again once the broker is back")
		return
	}
	h.reply(cl, encode(ackReply{Type: "ack", ID: r.ID, Topic: r.Topic, Epoch: p.Epoch, Offset: p.Offset}))
}

func (h *hub) replyError(cl *client, r request, msg string) {
	topic := r.Topic
	if checkTopic(topic) != nil {
		topic = "" // not a topic: echoing it back (60 KB, say) would help nobody
	}
	h.reply(cl, encode(errorReply{Type: "error", ID: r.ID, Topic: topic, Error: msg}))
}

// reply queues a reply to cl's request: it never drops cl (the handler
// waits for cl to read its replies before it reads the next request).
func (h *hub) reply(cl *client, msg []byte) { cl.out.push(msg, nil, true) }

// send queues an event for cl without waiting. A client whose events
// exceed its outbox's bounds does not keep up and is dropped: waiting for
// it would hold up every other subscriber of the topic.
func (h *hub) send(cl *client, msg []byte) { h.sendPrepared(cl, msg, nil) }

// sendPrepared is send with msg prepared as pm, when pm is not nil.
func (h *hub) sendPrepared(cl *client, msg []byte, pm *dorrit.PreparedMessage) {
	if !cl.out.push(msg, pm, false) {
		h.drop(cl, "events waiting past the bounds")
	}
}

// tooSlow is what a dropped subscriber is closed with.
const tooSlow = "too slow"

// drop closes a client that does not read fast enough, saying why and what
// it had waiting.
func (h *hub) drop(cl *client, why string) {
	cl.dropOnce.Do(func() {
		events, bytes, replies := cl.out.waiting()
		h.log.Info("dropping a client that does not keep up", "id", cl.c.ID(), "reason", tooSlow, "why", why,
			"events_waiting", events, "event_bytes_waiting", bytes, "replies_waiting", replies)
		cl.out.close()
		// What is queued is dropped and 1008 goes next, so that a client
		// still reading learns why at once. Its own goroutine: the caller
		// may hold a topic's lock.
		go cl.c.Drop(dorrit.StatusPolicyViolation, tooSlow)
	})
}
