package dorrit

import "time"

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
	tick := keepaliveTick(ln.opts)
	pingAfter := ticksFor(ln.opts.PingInterval, tick)
	dropAfter := ticksFor(ln.opts.PongTimeout, tick)
	t := time.NewTicker(tick)
	defer t.Stop()
	var ping, drop []*MessageConn
	for range t.C {
		now := ln.clock.Add(1)
		if now == 0 { // wrapped, after 2^32 ticks: 0 means "not pinged"
			now = ln.clock.Add(1)
		}
		ping, drop = ping[:0], drop[:0]
		ln.mu.Lock()
		if len(ln.conns) == 0 && isClosed(ln.closing) {
			ln.mu.Unlock()
			return
		}
		if !keepalive {
			ln.mu.Unlock()
			continue
		}
		for c := range ln.conns {
			last := c.lastRead.Load()
			switch {
			case c.pingedAt != 0 && int32(last-c.pingedAt) >= 0:
				c.pingedAt = 0 // the client answered
				fallthrough
			case c.pingedAt == 0:
				if now-last >= pingAfter {
					c.pingedAt = now
					ping = append(ping, c)
				}
			case now-c.pingedAt >= dropAfter: // unsigned: right across a wrap
				drop = append(drop, c)
			}
		}
		ln.mu.Unlock()
		// Socket work outside ln.mu, so that Accept and Stats never wait for it.
		for _, c := range ping {
			c.queuePing()
		}
		for _, c := range drop {
			c.pongTimeout()
		}
		clear(ping)
		clear(drop)
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

// markRead records that bytes arrived, for the keepalive sweep. It writes
// only when the clock moved on, so a busy connection does not keep
// dirtying the cache line.
func (c *MessageConn) markRead() {
	if now := c.ln.clock.Load(); c.lastRead.Load() != now {
		c.lastRead.Store(now)
	}
}

// pongTimeout drops a client that answered no ping: 1001, then the socket
// closes without waiting, since the client reads nothing. If the client's
// bytes are waiting unread in the socket, the application merely stopped
// reading and the client is alive: the ping is forgotten instead.
func (c *MessageConn) pongTimeout() {
	if c.unreadBytes() > 0 {
		c.pingedAt = 0
		return
	}
	why := &CloseError{Code: StatusGoingAway, Reason: "pong timeout: the client answered no ping"}
	if !c.queueClose(why) {
		return // closing already
	}
	c.ln.counters.drop(dropPongTimeout)
	c.stopReading()
	c.finish(why)
}

// unreadBytes is how many bytes the client sent that nobody has read yet.
func (c *MessageConn) unreadBytes() int {
	n := 0
	c.raw.Control(func(fd uintptr) { n = unreadOn(int(fd)) })
	return n
}
