package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/user"
	"strings"
	"syscall"
	"time"

	"github.com/coder/websocket"
)

// readLimit bounds one message read by connect (the server's own limit is
// on what it reads, not on what it sends).
const readLimit = 64 << 20

// handshake is what a client puts in its upgrade request.
type handshake struct {
	host         string      // Host header; default "localhost"
	origin       string      // Origin header, none when empty
	subprotocols []string    // offered, in order
	header       http.Header // more headers (-H)
}

// dial opens a WebSocket connection to the server on socket.
func dial(ctx context.Context, socket string, h handshake) (*websocket.Conn, *http.Response, error) {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		DisableKeepAlives: true,
	}
	hdr := h.header.Clone()
	if hdr == nil {
		hdr = http.Header{}
	}
	host := h.host
	if v := hdr.Get("Host"); v != "" {
		host = v
		hdr.Del("Host")
	}
	if host == "" {
		host = "localhost"
	}
	if h.origin != "" {
		hdr.Set("Origin", h.origin)
	}
	c, resp, err := websocket.Dial(ctx, "ws://"+host+"/", &websocket.DialOptions{
		HTTPClient:   &http.Client{Transport: tr},
		HTTPHeader:   hdr,
		Host:         host,
		Subprotocols: h.subprotocols,
	})
	if err != nil {
		tr.CloseIdleConnections()
		return nil, resp, err
	}
	c.SetReadLimit(readLimit)
	return c, resp, nil
}

// dialFailure explains a failed dial: what happened, what to do, and the
// exit status.
func dialFailure(socket string, resp *http.Response, err error, timeout time.Duration) (string, int) {
	name := nameOf(socket)
	switch {
	case resp != nil && resp.StatusCode != http.StatusSwitchingProtocols:
		return refusalText(resp), exitFailure
	case errors.Is(err, syscall.ENOENT):
		return fmt.Sprintf("no socket at %s: the server is not running, or listens elsewhere (start it; a server started with -l PATH needs that PATH here)", socket), exitNotRunning
	case errors.Is(err, syscall.ECONNREFUSED):
		if fi, serr := os.Stat(socket); serr == nil && fi.Mode().Type() != os.ModeSocket {
			return fmt.Sprintf("%s is not a socket: remove it and start the server (it creates its socket at start)", socket), exitFailure
		}
		return fmt.Sprintf("nothing listens on %s: the server is not running (the file is left from one that stopped); start it", socket), exitNotRunning
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return fmt.Sprintf("permission denied on %s for %s: run as root or as a member of the socket's group (dorritctl check %s --as %s says what is missing)",
			socket, currentUser(), socket, currentUser()), exitNoPermission
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("no answer to the handshake within %v: is a dorrit server behind %s, and is it stuck or overloaded?", timeout, socket), exitFailure
	case resp != nil:
		return fmt.Sprintf("handshake failed: %v (is %s a dorrit server, e.g. %s?)", err, socket, name), exitFailure
	}
	return fmt.Sprintf("cannot connect to %s: %v", socket, err), exitFailure
}

// refusalText is a refused handshake: status, Retry-After and dorrit's
// body, which names the fix.
func refusalText(resp *http.Response) string {
	var b strings.Builder
	fmt.Fprintf(&b, "refused: HTTP %s", resp.Status)
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		fmt.Fprintf(&b, " (Retry-After: %s s)", ra)
	}
	if resp.Body != nil {
		body := make([]byte, 1024)
		n, _ := resp.Body.Read(body)
		if text := strings.TrimSpace(string(body[:n])); text != "" {
			b.WriteString(": ")
			b.WriteString(strings.ReplaceAll(text, "\n", " "))
		}
	}
	return b.String()
}

// closeText describes how a connection ended.
func closeText(err error) string {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		s := fmt.Sprintf("%d (%s)", int(ce.Code), closeName(ce.Code))
		if ce.Reason != "" {
			s += ": " + ce.Reason
		}
		return s
	}
	return err.Error()
}

func closeName(code websocket.StatusCode) string {
	switch code {
	case websocket.StatusNormalClosure:
		return "normal closure"
	case websocket.StatusGoingAway:
		return "going away: the server stops or drains"
	case websocket.StatusProtocolError:
		return "protocol error"
	case websocket.StatusUnsupportedData:
		return "unsupported data: dorrit takes text messages only"
	case websocket.StatusInvalidFramePayloadData:
		return "invalid UTF-8"
	case websocket.StatusPolicyViolation:
		return "policy violation"
	case websocket.StatusMessageTooBig:
		return "message too big: over the server's -b size less 5 bytes"
	case websocket.StatusInternalError:
		return "internal error"
	}
	return "close code"
}

func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return fmt.Sprintf("uid %d", os.Getuid())
}
