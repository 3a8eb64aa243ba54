package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

const (
	maxTopicsPerConn = 100

	// A replay goes out in history events of up to replayBatch messages
	// and about hub.replayBytes of data (most of one WebSocket frame), so
	// that it takes few of the client's queue slots and outbox and live
	// messages of its other topics still find room.
	replayBatch = 256

	retryMin, retryMax = 250 * time.Millisecond, 5 * time.Second
)

// join holds topic name for a client, creating it (and starting the
// broker's watch) for the first one.
func (h *hub) join(name string) *topic {
	h.watchMu.Lock()
	defer h.watchMu.Unlock()
	h.mu.Lock()
	t := h.topics[name]
	created := t == nil
	if created {
		t = &topic{name: name, ready: make(chan struct{}), subs: make(map[*client]*sub)}
		h.topics[name] = t
	}
	t.refs++
	h.mu.Unlock()
	if created {
		h.broker.Watch(name) // outside h.mu: the broker may call Head at once
	}
	return t
}

// release undoes join; the last one out stops the broker's watch.
func (h *hub) release(t *topic) {
	h.watchMu.Lock()
	defer h.watchMu.Unlock()
	h.mu.Lock()
	t.refs--
	gone := t.refs == 0
	if gone {
		delete(h.topics, t.name)
	}
	h.mu.Unlock()
	if gone {
		h.broker.Unwatch(t.name)
	}
}

// subscribe handles a subscribe request: live from now, or, with an
// offset, a replay of what the client missed followed by live messages.
func (h *hub) subscribe(cl *client, r request) {
	cl.mu.Lock()
	_, dup := cl.topics[r.Topic]
	n := len(cl.topics)
	cl.mu.Unlock()
	switch {
	case dup:
		h.replyError(cl, r, fmt.Sprintf("already subscribed to %q: unsubscribe first to subscribe again (from another offset)", r.Topic))
		return
	case n >= maxTopicsPerConn:
		h.replyError(cl, r, fmt.Sprintf("already subscribed to %d topics, the most one connection may: unsubscribe from one first", n))
		return
	}
	t := h.join(r.Topic)
	cl.mu.Lock()
	cl.topics[r.Topic] = t
	cl.mu.Unlock()

	wait := time.NewTimer(h.readyTimeout)
	defer wait.Stop()
	select {
	case <-t.ready:
	case <-wait.C:
		h.leave(cl, r.Topic)
		h.replyError(cl, r, fmt.Sprintf("not subscribed: the broker has not answered for %v (is it reachable?); subscribe again", h.readyTimeout))
		return
	case <-cl.c.Done():
		return // the handler's cleanup releases t
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	s := &sub{pos: t.pos}
	if r.Offset != nil {
		s.pos = Position{r.Epoch, *r.Offset}
		s.catchingUp = true
		ctx, cancel := context.WithCancel(context.Background())
		s.cancel, s.done = cancel, make(chan struct{})
		go h.catchUp(ctx, cl, t, s)
	}
	t.subs[cl] = s
	// Under t.mu, so that no live message overtakes it.
	h.reply(cl, encode(subscribedReply{Type: "subscribed", ID: r.ID, Topic: t.name, Epoch: s.pos.Epoch, Offset: s.pos.Offset}))
}

// leave ends cl's subscription to name; false if there was none.
func (h *hub) leave(cl *client, name string) bool {
	cl.mu.Lock()
	t, ok := cl.topics[name]
	delete(cl.topics, name)
	cl.mu.Unlock()
	if !ok {
		return false
	}
	t.mu.Lock()
	s := t.subs[cl]
	delete(t.subs, cl)
	t.mu.Unlock()
	if s != nil && s.cancel != nil {
		s.cancel()
		<-s.done // nothing of this topic reaches the client after leave
	}
	h.release(t)
	return true
}

// catchUp replays from the broker's history what a resuming client
// missed, then hands it over to the live fan-out. While the broker cannot
// be read it retries, the client staying subscribed; when the history no
// longer has what the client needs, the client is told it missed messages
// and continues live.
func (h *hub) catchUp(ctx context.Context, cl *client, t *topic, s *sub) {
	defer close(s.done)
	t.mu.Lock()
	pos := s.pos // from here on this goroutine's, until the hand-over
	t.mu.Unlock()
	for wait := retryMin; ; {
		hctx, cancel := context.WithTimeout(ctx, brokerTimeout)
		lg, err := h.broker.History(hctx, t.name, pos.Offset, replayBatch)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			h.log.Warn("cannot read the history for a resuming client; retrying", "topic", t.name, "err", err, "in", wait)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, retryMax)
			continue
		}
		if len(lg.Msgs) > 0 {
			wait = retryMin
		}
		if pos.Epoch == "" && pos.Offset == 0 {
			pos.Epoch = lg.Head.Epoch // "all that is kept", of whichever log this is
		}
		if why := resumeProblem(pos, lg); why != "" {
			h.handOver(t, cl, s, why)
			return
		}
		for rest := lg.Msgs; len(rest) > 0; {
			ev, n := historyBatch(t.name, pos.Epoch, rest, h.replayBytes)
			// Room in the client's outbox, as for live events; a
			// client that takes nothing for replayWait is too slow.
			wctx, cancel := context.WithTimeout(ctx, h.replayWait)
			for {
				if !cl.out.waitRoom(wctx, true) {
					break
				}
				if cl.out.push(ev, nil, false) {
					break
				}
			}
			err := wctx.Err()
			cancel()
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				h.drop(cl, fmt.Sprintf("took none of its replay for %v", h.replayWait))
				return
			}
			pos = rest[n-1].Position
			rest = rest[n:]
		}
		done, later := h.tryHandOver(t, cl, s, pos, len(lg.Msgs) == 0)
		if done {
			return
		}
		if later {
			// This server's delivery has yet to catch up with the
			// broker (a reconnect under way): read again in a while.
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, retryMax)
		}
	}
}

// resumeProblem says why pos cannot be resumed from lg, or "".
func resumeProblem(pos Position, lg Log) string {
	switch {
	case lg.Head.Epoch != pos.Epoch:
		return fmt.Sprintf("epoch %s is not this topic's log any more (it was lost: a broker restart without its data, or a restart of a server with the in-process broker); messages after offset %d of it cannot be given",
			pos.Epoch, pos.Offset)
	case pos.Offset > lg.Head.Offset:
		return fmt.Sprintf("offset %d was never given out in epoch %s (the last is %d)", pos.Offset, pos.Epoch, lg.Head.Offset)
	case len(lg.Msgs) > 0 && lg.Msgs[0].Offset != pos.Offset+1:
		return fmt.Sprintf("offset %d is older than the history kept (the oldest kept is %d): messages %d to %d are lost",
			pos.Offset, lg.Msgs[0].Offset, pos.Offset+1, lg.Msgs[0].Offset-1)
	case len(lg.Msgs) == 0 && pos.Offset < lg.Head.Offset:
		return fmt.Sprintf("messages after offset %d are no longer kept", pos.Offset)
	}
	return ""
}

// historyEntryJSON is the most JSON around one message's data in a
// history event: {"offset":18446744073709551615,"data":},
const historyEntryJSON = 42

// historyBatch encodes the first messages of msgs as one history event
// and says how many it took: at least one, and beyond the first only as
// many as keep the entries within maxBytes.
func historyBatch(topic, epoch string, msgs []Message, maxBytes int) ([]byte, int) {
	ev := historyEvent{Type: "history", Topic: topic, Epoch: epoch}
	size := 0
	for _, m := range msgs {
		n := historyEntryJSON + len(m.Data)
		if len(ev.Messages) > 0 && size+n > maxBytes {
			break
		}
		size += n
		ev.Messages = append(ev.Messages, historyEntry{Offset: m.Offset, Data: json.RawMessage(m.Data)})
	}
	return encode(ev), len(ev.Messages)
}

// tryHandOver makes s live once the replay has reached pos: from there on
// the fan-out brings every message (it skips those up to pos). drained
// says the history had nothing after pos when read. Not done, the replay
// reads again, after a while when later says so.
func (h *hub) tryHandOver(t *topic, cl *client, s *sub, pos Position, drained bool) (done, later bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.subs[cl] != s:
		return true, false // left meanwhile
	case pos.Epoch == t.pos.Epoch && pos.Offset < t.pos.Offset:
		return false, false // live subscribers are further on, so the history is too
	case pos.Epoch == t.pos.Epoch:
	case t.hadEpoch(pos.Epoch):
		// The log being replayed was lost while the replay ran, and
		// this server has moved on to a new one.
		h.handOverLocked(t, cl, s, fmt.Sprintf("the log of epoch %s was lost after offset %d", pos.Epoch, pos.Offset))
		return true, false
	case !drained:
		return false, false
	case pos.Epoch == "":
		// The history was empty, and this server delivers from a log:
		// it began since, or the broker lost it and this server has
		// yet to hear. The next read tells.
		return false, true
	}
	// Same log, or a newer one this server has yet to hear of (a client
	// resuming with what another server delivered): the fan-out takes
	// over from pos when it gets there.
	s.pos, s.catchingUp = pos, false
	return true, false
}

// handOver makes s live at t's position, telling the client what it missed.
func (h *hub) handOver(t *topic, cl *client, s *sub, why string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.subs[cl] == s {
		h.handOverLocked(t, cl, s, why)
	}
}

func (h *hub) handOverLocked(t *topic, cl *client, s *sub, why string) {
	s.pos, s.catchingUp = t.pos, false
	h.send(cl, encode(missedEvent{Type: "missed", Topic: t.name, Epoch: t.pos.Epoch, Offset: t.pos.Offset, Reason: why}))
}
