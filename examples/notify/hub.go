package main

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/dorritgo/dorrit"
)

// historySize is how many notifications a reconnecting browser can catch
// up on (?since=ID).
const historySize = 1024

// note is one notification as browsers receive it. User is empty for one
// sent to everyone.
type note struct {
	ID   int64  `json:"id"`
	User string `json:"user,omitempty"`
	Text string `json:"text"`
	msg  *dorrit.PreparedMessage
}

// hub holds the connected browsers by user and the recent notifications.
type hub struct {
	mu      sync.Mutex
	conns   map[*dorrit.MessageConn]string // connection → user
	history []*note                        // oldest first, at most historySize
	lastID  int64

	sent, delivered, droppedSlow uint64
}

func newHub() *hub { return &hub{conns: map[*dorrit.MessageConn]string{}} }

// tryAgainLater (1013) tells a browser that missed more notifications
// than its queue holds to come back for the rest.
const tryAgainLater dorrit.StatusCode = 1013

// register adds c for user, after sending it what it missed since the
// notification since (none when since is 0). Both happen under the lock
// that notify takes, so a notification is either replayed or delivered
// live, never both, never neither. A browser that missed more than its
// queue holds (200) gets that much and 1013, and comes back with a later
// since for the rest.
func (h *hub) register(c *dorrit.MessageConn, user string, since int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if since > 0 {
		for _, n := range h.history {
			if n.ID <= since || (n.User != "" && n.User != user) {
				continue
			}
			if err := c.WritePrepared(n.msg); err != nil {
				go func() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					c.CloseWith(ctx, tryAgainLater, "more to catch up: reconnect with since")
				}()
				return
			}
		}
	}
	h.conns[c] = user
}

func (h *hub) unregister(c *dorrit.MessageConn) {
	h.mu.Lock()
	delete(h.conns, c)
	h.mu.Unlock()
}

// notify sends text to user's browsers (to everyone when user is empty)
// and returns the notification's ID and how many browsers got it.
func (h *hub) notify(user, text string) (id int64, delivered int) {
	h.mu.Lock()
	// IDs are microseconds of the wall clock, so that the process that
	// takes over after an upgrade, which starts only after this one took
	// its last request, continues above this one's IDs: a browser that
	// reconnects with ?since= gets what it missed from the new process.
	id = max(h.lastID+1, time.Now().UnixMicro())
	h.lastID = id
	n := &note{ID: id, User: user, Text: text}
	b, _ := json.Marshal(n)
	n.msg = dorrit.NewPreparedMessage(b) // framed once for every browser
	h.history = append(h.history, n)
	if len(h.history) > historySize {
		h.history = h.history[1:]
	}
	var slow []*dorrit.MessageConn
	for c, u := range h.conns {
		if user != "" && u != user {
			continue
		}
		switch err := c.WritePrepared(n.msg); {
		case err == nil:
			delivered++
		case errors.Is(err, dorrit.ErrQueueFull):
			slow = append(slow, c) // 200 notifications behind: let it go
		}
	}
	for _, c := range slow {
		delete(h.conns, c)
	}
	h.sent++
	h.delivered += uint64(delivered)
	h.droppedSlow += uint64(len(slow))
	h.mu.Unlock()
	for _, c := range slow {
		// Its queue is discarded; the browser reconnects with ?since= and
		// catches up from the history.
		c.Drop(dorrit.StatusPolicyViolation, "too slow: reconnect")
	}
	return id, delivered
}

type hubStats struct {
	Browsers    int    `json:"browsers"`
	Sent        uint64 `json:"notifications"`
	Delivered   uint64 `json:"delivered"`
	DroppedSlow uint64 `json:"dropped_slow"`
}

func (h *hub) stats() hubStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return hubStats{Browsers: len(h.conns), Sent: h.sent, Delivered: h.delivered, DroppedSlow: h.droppedSlow}
}
