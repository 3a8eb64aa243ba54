// Package dorrit serves text-message WebSockets on a UNIX-domain socket
// behind a front web server (nginx, HAProxy, Caddy, Apache). It is the Go
// rebuild of the C library libdorrit: the application writes an ordinary
// accept loop, and the dorrit rules run underneath.
//
//	ln, err := dorrit.Listen(dorrit.Options{Path: "/run/echo.socket"})
//	if err != nil { … }
//	for {
//		c, err := ln.Accept() // handshake checked; the client waits for its 101
//		if err != nil { return }
//		go func() {
//			defer c.Close()
//			for {
//				msg, err := c.Read(ctx) // one complete text message
//				if err != nil { return } // a *CloseError says why
//				if err := c.Write(msg); err != nil { return } // queued, never blocks
//			}
//		}()
//	}
//
// The front server forwards the client's HTTP/1.1 upgrade request over the
// socket; dorrit reads it with net/http, checks the Origin against the Host
// (Options.OriginPatterns widens that), runs Options.Authorize and answers
// the handshake itself. What Authorize returns (the user a session cookie
// names) is the connection's Value; Cookie, Host, Protocol, URL and Header
// expose what the front server forwarded.
//
// Accept hands a connection out before its 101 answer leaves: the answer
// leaves with the connection's first Read, CloseRead, Write or close. So an
// accept loop that registers each connection (with the hub that broadcasts)
// before starting its handler has it registered before the client knows it
// is connected, and no broadcast sent after a client's handshake misses it.
//
// The rules, which every connection keeps without the application's help:
//
//   - Pings are answered with pongs while Read waits (or CloseRead's
//     goroutine reads), and a ping that came while the application was
//     busy is answered before Read returns the next message.
//   - A binary message drops the connection (close 1003).
//   - A frame or message over BufferSize-5 bytes (default 65535) drops the
//     connection (1009) before its payload is read.
//   - Outgoing messages over BufferSize-5 bytes leave as fragments.
//   - Write never blocks: at most 200 frames wait per connection, then
//     Write returns ErrQueueFull and nothing queued before is lost.
//     WriteContext waits for room instead. All queues together hold at
//     most Options.MaxQueueBytes; past it the connections holding more
//     than their share get ErrQueueFull.
//   - At most MaxConns connections (default 2000): the next handshake gets
//     503 with Retry-After and nothing is upgraded.
//   - Close delivers every queued frame before the close frame; CloseNow
//     does not wait.
//   - A client silent for Options.PingInterval (30 s) is pinged, and one
//     that does not answer within PongTimeout is closed with 1001.
//   - The socket is created at Listen (a stale file is replaced) with mode
//     0770 and the owner given by SocketUser/SocketGroup.
//   - Invalid UTF-8, unmasked frames, reserved bits, unknown opcodes and
//     bad control frames fail the connection with the RFC 6455 close code;
//     one bad client never disturbs another.
//
// A handler must either Read or call CloseRead. Pings are answered, the
// client's close is completed and a vanished client is noticed while
// something reads; a handler that only writes (a feed, a ticker) calls
// CloseRead, which reads and discards on a goroutine of its own and returns
// a context that ends with the connection:
//
//	ctx := c.CloseRead(context.Background())
//	for {
//		select {
//		case <-ctx.Done():
//			return // the client left; c.Err() says how
//		case ev := <-feed:
//			if err := c.Write(ev); err != nil { return }
//		}
//	}
//
// Once a close has begun, Read and Write return the *CloseError that tells
// why; Err returns it after the end and Done is closed. The ways to end a
// connection:
//
//	method                  queued frames         close frame                waits
//	Close()                 delivered first       1000                       until delivered (or 5 s without progress)
//	CloseWith(ctx, c, r)    delivered first       the application's c and r  as Close, and at most until ctx ends
//	Listener.Shutdown(ctx)  delivered first       1001 on every connection   as CloseWith, for all of them
//	Drop(c, r)              discarded (counted)   c and r, at once           no
//	CloseNow()              discarded (counted)   none: the socket closes    no
//
// A graceful close gives up only when its context ends or the socket has
// taken no bytes for 5 s, and then reports the frames it could not deliver
// in a *DeliveryError. Shutdown first stops reading and lets a handler
// answer the message Read gave it: its close frame follows once the handler
// reads again or closes, or after 1 s. Once the close frame has left, the
// server shuts its write side and reads and discards what the client still
// sends, until the client answers, ends its stream, or 2 s or 1 MiB passed;
// only then does the socket close, so that the client (and a front server
// between) reads the close frame and an orderly end of stream, never a
// reset. (CloseRead is not a close: it only reads in the handler's place.)
//
// Write sends what RFC 6455 calls a text message: an empty one too, and
// never one that is not valid UTF-8 (ErrInvalidUTF8, nothing queued), which
// the client would have to fail with 1007.
//
// An idle connection holds no buffer and no timer: dorrit waits for
// readability through the runtime's poller, borrows a pooled buffer only
// while bytes are in flight, and one keepalive sweep per listener serves
// every connection. Returning memory to the system after a burst is the
// process's decision: package lifecycle makes it.
//
// Process concerns (privilege drop, daemon, pidfile, signals, crash
// restart, memory) live in package lifecycle.
package dorrit
