package dorrit

import (
	"time"
)

// Keepalive pings clients that have been silent for PingInterval and drops
// those that do not answer within PongTimeout. It keeps no timer per
// connection: one sweep per listener walks the connections every
// keepaliveTick and compares two numbers. A Read marks its connection with
// the listener's clock (a tick count) whenever bytes arrive, so that any
// byte from the client (a pong, a message, its own ping) counts as an
// answer.
//
// The sweep wakes keepaliveSteps times per the shorter of the two
// intervals, so a ping leaves between PingInterval and PingInterval +
// PingInterval/4 of silence (30-37.5 s by default, inside nginx's 60 s
// proxy_read_timeout), and a drop follows within the same precision.
const keepaliveSteps = 4

// keepaliveTick is the sweep's period for o, which withDefaults checked.
// Without keepalive the listener's housekeeping still runs, for the queue
// budget, every idleTick.
func keepaliveTick(o Options) time.Duration {
	if o.PingInterval <= 0 {
		return idleTick
	}
	return max(min(o.PingInterval, o.PongTimeout)/keepaliveSteps, time.Millisecond)
}

const idleTick = 5 * time.Second

// ticksFor is d in whole ticks, at least one.
func ticksFor(d, tick time.Duration) uint32 {
	return uint32(max((d+tick-1)/tick, 1))
}

// housekeeping is the listener's keepalive sweep. It ends once the listener
// is closed and its last connection has ended.
func (ln *Listener) housekeeping() {
	keepalive := ln.opts.PingInterval > 0
	t := time.NewTicker(keepaliveTick(ln.opts))
	defer t.Stop()
	var conns []*MessageConn
	for range t.C {
		now := ln.clock.Add(1)
		ln.mu.Lock()
		if len(ln.conns) == 0 && isClosed(ln.closing) {
			ln.mu.Unlock()
			return
		}
		if !keepalive {
			ln.mu.Unlock()
			continue
		}
		conns = conns[:0]
		for c := range ln.conns {
			conns = append(conns, c)
		}
		ln.mu.Unlock()
		// Socket work outside ln.mu, so that Accept and Stats never wait for it.
		for _, c := range conns {
			c.tick(now)
		}
		clear(conns)
	}
}

// isClosed reports whether ch is closed.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// tick advances the connection's keepalive: the core pings a silent
// client, and one that stays silent is dropped with 1001, the socket
// closed without waiting, since the client reads nothing. If the client's
// bytes are waiting unread in the socket, the application merely stopped
// reading and the client is alive: that counts as its answer.
func (c *MessageConn) tick(now uint32) {
	c.mu.Lock()
	defer c.unlock()
	if c.end.Load() != nil {
		return
	}
	if !c.core.Tick(now) {
		c.flush() // the ping, if one was queued
		return
	}
	if unreadOn(int(c.fd)) > 0 {
		c.core.Heard()
		return
	}
	if c.core.TimeOut() {
		c.stopReading()
		c.flush() // the close frame, if the socket takes it now
		c.finish(c.closeError())
	}
}
