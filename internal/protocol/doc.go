// Package protocol is dorrit's protocol core: the WebSocket state of one
// server-side connection as a plain value, driven from outside. It knows
// nothing of sockets, goroutines, locks or clocks (it imports none of
// them; a test checks), so the goroutine engine (MessageConn), an event
// loop and the C API all keep the same rules by driving the same Conn.
//
// # Driving a Conn
//
// An engine owns the socket and calls its connection's Conn from one
// goroutine at a time. In:
//
//   - Receive(bytes read from the socket), until it has taken them all;
//     ReceiveEOF when the stream ends.
//   - Write / WritePrepared / WriteDirect: the application's messages.
//   - Wrote(n): the socket took n bytes of what Output returned.
//   - Close (graceful, code and reason), Drop (now, code and reason),
//     CloseNow (the socket closes).
//   - Tick(now): the keepalive's clock; TimeOut, Heard; LingerExpired.
//
// Out: the Event each Receive returns (a complete text message, the
// client's close, a violation and its close code, a hangup); Output, the
// buffers to write next, as a writev takes them; State, which says what to
// do with the socket; Counters, for Stats.
//
// An event loop, with one read buffer shared by its connections:
//
//	n, _ := unix.Read(fd, buf)               // readable; n == 0: c.ReceiveEOF()
//	for p := buf[:n]; len(p) > 0; {
//		k, ev := c.Receive(p)
//		p = p[k:]
//		switch ev.Kind {
//		case protocol.Message:
//			onMessage(ev.Message)      // valid until the next call on c
//		case protocol.PeerClose, protocol.Violation:
//			onClose(ev.Code, ev.Reason)
//		}
//	}
//	iov := c.Output(iovs[:0])                // writable, or after any call that queued
//	n, _ = unix.Writev(fd, iov)
//	c.Wrote(n)
//	switch c.State() {
//	case protocol.Linger:                    // once: shutdown(fd, SHUT_WR), arm the linger timer
//	case protocol.Closed:                    // close(fd); c.CloseNow()
//	}
//
// Its timer calls Tick on every connection each tick (TimeOut when one is
// overdue) and LingerExpired on those that lingered too long. Writes from
// other goroutines (a broadcast) reach a Conn under a per-connection lock
// or through the loop's inbox; either way one call at a time.
//
// The goroutine engine does the same under its connection's lock: Read
// calls Receive until an event, Write calls Write and writes Output (or
// leaves it to a flusher while the socket is full), Close calls Close and
// waits for Linger. It never calls the Conn from inside a RawConn
// callback: the callback only reads into a buffer or writes what Output
// returned, and the engine acts on State once it has returned.
//
// # The rules, and where they live
//
// Each rule is kept once, in the file its name says; each has a table of
// bytes and calls in the test file of the same name.
//
//   - mask.go: client payloads are unmasked in place, in pieces of any size.
//   - violation.go: reserved bits, unmasked frames, unknown opcodes, a
//     continuation without a message or a text frame inside one, and
//     fragmented or long control frames fail the connection with 1002; a
//     binary message with 1003; a frame or message over MaxPayload with
//     1009 before a byte of its payload is taken; a message in more than
//     MaxFragments frames with 1009. A failure drops the queued data,
//     sends the close frame at the next frame boundary and parses nothing
//     more.
//   - utf8.go, receive.go: a text message is checked as its bytes arrive,
//     across fragments, and fails with 1007 at the first impossible byte.
//     A message that arrives whole in one Receive is handed out without a
//     copy; one that arrives in pieces or fragments is assembled in a
//     pooled buffer.
//   - control.go: pings are answered at the next frame boundary, ahead of
//     queued data; a pong not yet on its way is rewritten by a newer ping
//     (RFC 6455 §5.5.3), so a client that pings and never reads holds one.
//   - queue.go: at most MaxQueuedFrames (200) data frames wait; the order
//     is preface, control frames, data, close frame; nothing follows the
//     close frame.
//   - write.go: Write copies a message into frames of at most MaxPayload
//     bytes (BufferSize-5), refuses invalid UTF-8 and a full queue with
//     nothing queued, and never loses what was queued before; prepared.go
//     and direct.go are its broadcast and zero-copy forms.
//   - budget.go: the queues of all connections share a Budget of bytes,
//     asked once the 200 frames leave room.
//   - close.go: the close handshake in both directions (the client's code
//     echoed behind the queue, the server's close frame last), Drop,
//     CloseNow, and the linger that follows the server's close frame.
//   - keepalive.go: a silent client is pinged; one that stays silent is
//     closed with 1001.
//   - counters.go: what Stats counts, per connection.
//
// Nothing on the hot path allocates: buffers come from the engine's Pool
// and go back to it (Benchmark* in bench_test.go, 0 allocs/op).
package protocol
