package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/coder/websocket"
)

var connectCommand = &command{
	name:     "connect",
	synopsis: "SOCKET|NAME [--send MSG] [-H 'Name: value']… [--subprotocol P]… [--origin O] [--host H] [--timeout D]",
	summary:  "talk to a server straight over its socket: lines typed are sent, answers printed",
	order:    20,
	details: `
Without --send, every line read from standard input is sent as a text
message (empty lines are not sent) and every message that comes back is
printed on its own line, prefixed "< " when the input is a terminal. At
the end of the input, answers still arriving are printed until the server
has been quiet for half a second; then, or on Ctrl-C, the connection
closes normally (1000).

With --send MSG, one message is sent, the first answer is printed and the
status is 0; a refused handshake prints the HTTP status and the server's
explanation, a close prints its code, and the status is then non-zero:
1 refused, closed or no answer within --timeout, 4 no permission on the
socket, 7 nothing listens there. For scripts and health checks.

  -H 'Name: value'   add a request header (Cookie, Authorization…); -H 'Host: h' sets the Host
  --subprotocol P    offer sub-protocol P (repeat for several)
  --origin O         send Origin: O, as a browser would (dorrit accepts the Host's own origin)
  --host H           the Host header (default localhost)
  --timeout D        bound on the handshake, and on the answer with --send (default 10s)`,
}

func init() {
	connectCommand.run = runConnect
	register(connectCommand)
}

func runConnect(s *streams, args []string) int {
	c := connectCommand
	fs := newFlags(c)
	var h handshake
	var hdr headerFlags
	var protos listFlag
	send := fs.String("send", "", "")
	fs.Var(&hdr, "H", "")
	fs.Var(&protos, "subprotocol", "")
	fs.StringVar(&h.origin, "origin", "", "")
	fs.StringVar(&h.host, "host", "", "")
	timeout := fs.Duration("timeout", 10*time.Second, "")
	p, status := parseOrReport(c, s, fs, args)
	if p == nil {
		return status
	}
	sendSet := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "send" {
			sendSet = true
		}
	})
	switch {
	case len(p.positional) == 0:
		return c.usage(s, "missing SOCKET|NAME: give the server's socket path or name, e.g. dorritctl connect /run/echo.socket")
	case len(p.positional) > 1 || p.dashdash:
		return c.usage(s, "one SOCKET|NAME only (quote a message with spaces: --send 'hello there')")
	case *timeout <= 0:
		return c.usage(s, "--timeout %v must be positive", *timeout)
	}
	h.header, h.subprotocols = hdr.h, protos
	socket := socketPath(p.positional[0])

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	dctx, dcancel := context.WithTimeout(ctx, *timeout)
	conn, resp, err := dial(dctx, socket, h)
	dcancel()
	if err != nil {
		msg, status := dialFailure(socket, resp, err, *timeout)
		return c.fail(s, status, "%s", msg)
	}
	if sendSet {
		return sendOne(ctx, s, conn, *send, *timeout)
	}
	return interact(ctx, s, conn, socket)
}

// sendOne sends msg, prints the first answer and closes.
func sendOne(ctx context.Context, s *streams, conn *websocket.Conn, msg string, timeout time.Duration) int {
	c := connectCommand
	defer conn.CloseNow()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := conn.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		return c.fail(s, exitFailure, "cannot send: %s", closeText(err))
	}
	_, answer, err := conn.Read(ctx)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return c.fail(s, exitFailure, "no answer within %v (the message was sent; a server need not answer every message)", timeout)
	case err != nil:
		return c.fail(s, exitFailure, "the connection ended before an answer: %s", closeText(err))
	}
	fmt.Fprintf(s.stdout, "%s\n", answer)
	conn.Close(websocket.StatusNormalClosure, "")
	return exitOK
}

// interact sends the lines of stdin and prints what comes back until
// either side ends.
func interact(ctx context.Context, s *streams, conn *websocket.Conn, socket string) int {
	c := connectCommand
	defer conn.CloseNow()
	prefix := ""
	if isTerminal(s.stdin) {
		prefix = "< "
		proto := conn.Subprotocol()
		if proto == "" {
			proto = "none"
		}
		fmt.Fprintf(s.stderr, "connected to %s (sub-protocol %s); type messages, Ctrl-D or Ctrl-C to close\n", socket, proto)
	}

	readerDone := make(chan error, 1)
	arrived := make(chan struct{}, 1)
	go func() {
		for {
			_, msg, err := conn.Read(context.Background())
			if err != nil {
				readerDone <- err
				return
			}
			fmt.Fprintf(s.stdout, "%s%s\n", prefix, msg)
			select {
			case arrived <- struct{}{}:
			default:
			}
		}
	}()

	inputDone := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(s.stdin)
		sc.Buffer(make([]byte, 64<<10), readLimit)
		for sc.Scan() {
			if len(sc.Bytes()) == 0 {
				continue
			}
			if err := conn.Write(context.Background(), websocket.MessageText, sc.Bytes()); err != nil {
				inputDone <- err
				return
			}
		}
		inputDone <- sc.Err()
	}()

	serverClosed := func(err error) int {
		if websocket.CloseStatus(err) == websocket.StatusNormalClosure {
			return exitOK
		}
		return c.fail(s, exitFailure, "connection closed by the server: %s", closeText(err))
	}
	select {
	case err := <-readerDone:
		return serverClosed(err)
	case err := <-inputDone:
		if err != nil {
			if rerr := waitShort(readerDone); rerr != nil {
				err = rerr
			}
			return c.fail(s, exitFailure, "connection lost: %s", closeText(err))
		}
		// End of input. The close handshake discards what arrives after
		// it, so first print the answers still on their way: wait until
		// the server has been quiet for a moment.
		quiet := time.NewTimer(quietBeforeClose)
		defer quiet.Stop()
	drain:
		for {
			select {
			case <-arrived:
				quiet.Reset(quietBeforeClose)
			case <-quiet.C:
				break drain
			case err := <-readerDone:
				return serverClosed(err)
			case <-ctx.Done():
				break drain
			}
		}
	case <-ctx.Done(): // Ctrl-C or SIGTERM
	}
	err := conn.Close(websocket.StatusNormalClosure, "")
	rerr := waitShort(readerDone)
	if err != nil && rerr != nil && websocket.CloseStatus(rerr) != websocket.StatusNormalClosure {
		return c.fail(s, exitFailure, "close: %s", closeText(rerr))
	}
	return exitOK
}

// quietBeforeClose is how long connect waits, at the end of its input, for
// answers still on their way before it closes.
const quietBeforeClose = 500 * time.Millisecond

// waitShort gives the reader a moment to report how the connection ended.
func waitShort(done <-chan error) error {
	select {
	case err := <-done:
		return err
	case <-time.After(time.Second):
		return nil
	}
}
