package dorrit

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxRequestBytes bounds the forwarded upgrade request; nginx's own default
// for request headers is 8 KiB, so 16 KiB leaves room for what it adds.
const maxRequestBytes = 16 << 10

// retryAfter is what a client refused for capacity is told to wait, in seconds.
const retryAfter = 5

// refusalWriteTimeout bounds writing a refusal. A refusal is the first thing
// written on its connection, so a few hundred bytes fit in the fresh socket
// buffer at once; the deadline only makes sure that no refusal can ever
// block its caller, the accept loop among them, and that one written after
// the handshake deadline (a late Authorize) is not failed by that deadline.
const refusalWriteTimeout = 100 * time.Millisecond

const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

var bufioReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

// refusal is a handshake answered without an upgrade.
type refusal struct {
	status int
	header string // extra header lines, each ending in \r\n
	reason string
	count  func(*listenerCounters)
}

func refuseBad(status int, header, format string, args ...any) *refusal {
	return &refusal{status: status, header: header, reason: fmt.Sprintf(format, args...),
		count: func(lc *listenerCounters) { lc.refBad.Add(1) }}
}

// refuseUnavailable is 503 with Retry-After: the server cannot take the
// client now, but may shortly, so the client is told when to try again.
func refuseUnavailable(count func(*listenerCounters), format string, args ...any) *refusal {
	return &refusal{status: http.StatusServiceUnavailable,
		header: "Retry-After: " + strconv.Itoa(retryAfter) + "\r\n",
		reason: fmt.Sprintf(format, args...), count: count}
}

// handshake reads the forwarded upgrade request, applies the checks and
// answers 101 or a refusal. It returns the upgraded connection, or nil after
// refusing and closing nc.
func (ln *Listener) handshake(nc *net.UnixConn) *MessageConn {
	deadline := time.Now().Add(ln.opts.HandshakeTimeout)
	nc.SetDeadline(deadline)
	if r := ln.peers.check(nc); r != nil {
		ln.refuse(nc, r)
		return nil
	}
	sock := &readErr{r: nc}
	lr := &io.LimitedReader{R: sock, N: maxRequestBytes}
	br := bufioReaders.Get().(*bufio.Reader)
	br.Reset(lr)
	defer func() {
		br.Reset(nil)
		bufioReaders.Put(br)
	}()

	req, err := http.ReadRequest(br)
	if err != nil {
		switch {
		case lr.N == 0:
			ln.refuse(nc, refuseBad(http.StatusRequestHeaderFieldsTooLarge, "", "upgrade request over %d bytes", maxRequestBytes))
		case sock.err != nil:
			// The socket ran dry (timeout, or the client left) before the
			// request was whole, wherever it was cut; net/http reports a
			// request line cut at the deadline as malformed.
			ln.counters.refTimeout.Add(1)
			nc.Close()
		default:
			ln.refuse(nc, refuseBad(http.StatusBadRequest, "", "malformed HTTP request: %v", err))
		}
		return nil
	}
	if r := checkUpgrade(req); r != nil {
		ln.refuse(nc, r)
		return nil
	}
	if !ln.reserve() {
		ln.refuse(nc, refuseUnavailable(func(lc *listenerCounters) { lc.refFull.Add(1) },
			"server is at its connection limit or shutting down"))
		return nil
	}
	value, r := ln.checkClient(req, deadline)
	if r != nil {
		ln.release()
		ln.refuse(nc, r)
		return nil
	}
	protocol := selectProtocol(req.Header, ln.opts.Subprotocols)

	var early []byte
	if n := br.Buffered(); n > 0 {
		early, _ = br.Peek(n)
	}
	nc.SetDeadline(time.Time{})
	// The 101 waits at the head of the queue until the application first
	// reads, writes or closes: Accept hands the connection out before the
	// client knows it is connected (see Listener.Accept).
	answer := upgradeAnswer(req.Header.Get("Sec-WebSocket-Key"), protocol)
	c, err := newMessageConn(ln, nc, req, protocol, early, value, answer)
	if err != nil {
		putBuf(answer)
		ln.release()
		nc.Close()
		return nil
	}
	return c
}

// readErr remembers the first error its reader returned.
type readErr struct {
	r   io.Reader
	err error
}

func (r *readErr) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && r.err == nil {
		r.err = err
	}
	return n, err
}

// checkUpgrade applies RFC 6455 §4.2.1 to the request.
func checkUpgrade(r *http.Request) *refusal {
	switch {
	case r.Method != http.MethodGet:
		return refuseBad(http.StatusMethodNotAllowed, "Allow: GET\r\n", "WebSocket upgrade must use GET, not %s", r.Method)
	case !r.ProtoAtLeast(1, 1):
		return refuseBad(http.StatusBadRequest, "", "WebSocket upgrade needs HTTP/1.1, got %s (nginx: proxy_http_version 1.1;)", r.Proto)
	case !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket"):
		return refuseBad(http.StatusUpgradeRequired, "",
			"this socket speaks WebSocket only: Connection: Upgrade and Upgrade: websocket are required (nginx: proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\";)")
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		return refuseBad(http.StatusUpgradeRequired, "Sec-WebSocket-Version: 13\r\n",
			"unsupported Sec-WebSocket-Version %q; only 13 is spoken", r.Header.Get("Sec-WebSocket-Version"))
	// The origin check compares Origin with Host, and Authorize reads
	// both: a request that names its origin twice, or its host in an
	// absolute-form target (which would win over Host), is ambiguous, and
	// no browser or front server sends one. (Two Host headers are refused
	// by http.ReadRequest already.)
	case len(r.Header.Values("Origin")) > 1:
		return refuseBad(http.StatusBadRequest, "", "more than one Origin header")
	case r.URL.IsAbs() || r.URL.Host != "":
		return refuseBad(http.StatusBadRequest, "", "absolute-form request target %q: a front server forwards the path only (nginx: proxy_pass http://unix:/path/to.socket; without a URI part)", r.RequestURI)
	}
	key, err := base64.StdEncoding.DecodeString(r.Header.Get("Sec-WebSocket-Key"))
	if err != nil || len(key) != 16 {
		return refuseBad(http.StatusBadRequest, "", "Sec-WebSocket-Key must be 16 bytes in base64")
	}
	return nil
}

// checkClient runs the origin check and the user's Authorize hook, and
// returns what Authorize said of the client.
func (ln *Listener) checkClient(r *http.Request, deadline time.Time) (any, *refusal) {
	if err := checkOrigin(r, ln.opts.OriginPatterns); err != nil {
		return nil, &refusal{status: http.StatusForbidden, reason: err.Error(),
			count: func(lc *listenerCounters) { lc.refOrigin.Add(1) }}
	}
	if ln.opts.Authorize != nil {
		return ln.authorize(r, deadline)
	}
	return nil, nil
}

// authorized is Options.Authorize's answer.
type authorized struct {
	value any
	err   error
}

// authorize runs Options.Authorize and gives up on it at the handshake
// deadline, so that a hook stuck on a slow session store cannot hold the
// client and its connection slot beyond HandshakeTimeout. A Go call cannot
// be stopped from outside, so it runs on its own goroutine; an abandoned one
// ends whenever it returns, into a buffered channel nobody reads.
//
// A late refusal is 503 with Retry-After: the client sent a complete request
// in time (408 would blame it), the cause is on the server's side and
// usually passes, and 504 belongs to gateways. It counts as Refused.Timeout.
func (ln *Listener) authorize(r *http.Request, deadline time.Time) (any, *refusal) {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	ar := r.WithContext(ctx)
	// The body would read from the pooled bufio.Reader, which the next
	// handshake reuses while an abandoned call may still run; an upgrade
	// request has no body anyway.
	ar.Body, ar.GetBody, ar.ContentLength = http.NoBody, nil, 0
	answer := make(chan authorized, 1)
	go func() {
		v, err := ln.opts.Authorize(ar)
		answer <- authorized{v, err}
	}()
	var a authorized
	select {
	case a = <-answer:
	case <-ctx.Done():
	}
	// An answer at or after the deadline is late as well, so that a hook
	// returning ctx.Err() is refused like one that never returns.
	if ctx.Err() != nil {
		return nil, refuseUnavailable(func(lc *listenerCounters) { lc.refTimeout.Add(1) },
			"authorization did not finish within the handshake timeout (%v); retry later (server: Options.Authorize must return before r.Context() ends)",
			ln.opts.HandshakeTimeout)
	}
	if a.err != nil {
		return nil, &refusal{status: http.StatusForbidden, reason: a.err.Error(),
			count: func(lc *listenerCounters) { lc.refUnauth.Add(1) }}
	}
	return a.value, nil
}

// checkOrigin refuses a browser's cross-site request: the Origin host must be
// the requested Host (port included) or match one of patterns. A pattern
// without a ':' is matched against the host name alone, because a site
// named in OriginPatterns is as trusted on https://example.com:8443 as on
// its default port; a pattern with a ':' pins the port.
func checkOrigin(r *http.Request, patterns []string) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return fmt.Errorf("origin %q is not a URL", origin)
	}
	if strings.EqualFold(u.Host, r.Host) {
		return nil
	}
	host, name := strings.ToLower(u.Host), strings.ToLower(u.Hostname())
	for _, p := range patterns {
		p = strings.ToLower(p)
		target := name
		if strings.Contains(p, ":") {
			target = host
		}
		if ok, _ := path.Match(p, target); ok {
			return nil
		}
	}
	return fmt.Errorf("origin %q is not the requested host %q and matches no OriginPatterns (does the front server forward Host? nginx: proxy_set_header Host $http_host;)", u.Host, r.Host)
}

// selectProtocol picks the first of ours, in our order, that the client
// offers. Tokens are compared exactly, unlike Connection and Upgrade: a
// browser fails the connection unless the answer is byte for byte one of
// its offers (RFC 6455 §4.1), so "chat" must not answer an offer of "Chat".
func selectProtocol(h http.Header, ours []string) string {
	for _, p := range ours {
		for _, v := range h.Values("Sec-WebSocket-Protocol") {
			for t := range strings.SplitSeq(v, ",") {
				if strings.TrimSpace(t) == p {
					return p
				}
			}
		}
	}
	return ""
}

// headerHasToken reports whether the comma-separated header name lists token,
// case-insensitively, across all its lines.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

func acceptKey(key string) string {
	sum := sha1.Sum([]byte(key + websocketGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// upgradeAnswer is the 101 answer in a pooled buffer, queued like a frame.
func upgradeAnswer(key, protocol string) *[]byte {
	p := getBuf(256)
	b := append(*p, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	b = append(b, acceptKey(key)...)
	b = append(b, "\r\n"...)
	if protocol != "" {
		b = append(b, "Sec-WebSocket-Protocol: "...)
		b = append(b, protocol...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	*p = b
	return p
}

// refuse answers r, counts it and closes nc.
func (ln *Listener) refuse(nc net.Conn, r *refusal) {
	r.count(&ln.counters)
	nc.SetWriteDeadline(time.Now().Add(refusalWriteTimeout))
	body := "dorrit: " + r.reason + "\n"
	connection := "Connection: close\r\n"
	if r.status == http.StatusUpgradeRequired {
		// RFC 9110 §15.5.22: a 426 names the protocol to upgrade to, and
		// Upgrade is then a connection option; both in one field.
		connection = "Connection: Upgrade, close\r\nUpgrade: websocket\r\n"
	}
	fmt.Fprintf(nc, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n%s%s\r\n%s",
		r.status, http.StatusText(r.status), len(body), connection, r.header, body)
	nc.Close()
}
