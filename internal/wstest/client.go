// Package wstest is a raw RFC 6455 WebSocket client over a UNIX-domain
// socket, for the tests and benchmarks of a WebSocket server. It builds every
// frame by hand so that a test can break the protocol on purpose (unmasked
// frames, reserved bits, lying or non-minimal lengths, bad opcodes, raw
// bytes), which no well-behaved client library allows.
//
// In the other direction it is strict: a server frame that breaks RFC 6455
// §5 (masked, non-minimal length, oversized or fragmented control frame,
// bad fragment sequence, 1-byte close payload) is reported as a
// *ProtocolError, so tests notice a misbehaving server.
//
// Nothing is negotiated: RSV bits are passed through as they are, and a
// close frame from the server is never answered automatically.
package wstest

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Buffer sizes of a Conn. A frame larger than the write buffer is masked
// and written through it in pieces, so the size bounds no frame.
const (
	readBufferSize  = 64 << 10
	writeBufferSize = 64 << 10
)

// maxErrorBody bounds how much of a refused handshake's body Dial keeps.
const maxErrorBody = 64 << 10

// DialOptions shape the upgrade request. The zero value (or a nil pointer)
// asks for "/" on host "localhost" with a 5 s limit.
type DialOptions struct {
	// Header holds extra request headers (Origin, Cookie,
	// Sec-WebSocket-Protocol, ...). An entry whose canonical name is one of
	// the headers Dial writes itself (Host, Upgrade, Connection,
	// Sec-WebSocket-Version, Sec-WebSocket-Key) replaces it, and an entry
	// with no values removes it, so a test can send a broken handshake.
	// Dial checks Sec-WebSocket-Accept against the key actually sent.
	Header http.Header
	// Host is the Host header; default "localhost".
	Host string
	// Path is the request target, sent as given; default "/".
	Path string
	// Timeout bounds dial plus handshake; default 5 s, negative for none.
	// The deadline is cleared again before Dial returns a Conn.
	Timeout time.Duration
}

// HandshakeError is an upgrade the server answered with a status other than
// 101. Response.Body can still be read: it holds the same bytes as Body.
type HandshakeError struct {
	Response *http.Response
	Body     []byte // the first 64 KiB of the body at most
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("wstest: handshake refused: %s: %s", e.Response.Status, strings.TrimSpace(string(e.Body)))
}

// Conn is a client connection. It wraps the socket in a bufio.Reader, which
// also holds whatever the server sent right after its 101, and a
// bufio.Writer.
//
// Concurrency: reads (ReadFrame, ReadMessage, AppendMessage,
// ReadFragments, ExpectClose) must come from one goroutine at a time. Every
// write method takes an internal lock, so writes may come from any
// goroutine, also while another reads; each frame goes out whole. The pong
// ReadMessage sends for a ping takes the same lock and flushes, which also
// sends any frames buffered with WriteFrameNoFlush. Pongs, SetDeadline,
// NetConn, Response and Close may be called at any time.
type Conn struct {
	nc   net.Conn
	br   *bufio.Reader
	resp *http.Response

	rbuf []byte // payload of the last frame read

	wmu sync.Mutex
	bw  *bufio.Writer

	pmu   sync.Mutex
	pongs [][]byte

	readDeadline atomic.Int64 // UnixNano of the read deadline, 0 for none
}

const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// acceptKey is the Sec-WebSocket-Accept value for key (RFC 6455 §4.2.2).
func acceptKey(key string) string {
	sum := sha1.Sum([]byte(key + acceptGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// Dial connects to the UNIX socket at path and sends an HTTP/1.1 GET with
// Upgrade: websocket, Sec-WebSocket-Version 13 and a random
// Sec-WebSocket-Key, then reads the answer with http.ReadResponse.
//
// On 101 it checks Upgrade, Connection and Sec-WebSocket-Accept, and that a
// Sec-WebSocket-Protocol or Sec-WebSocket-Extensions in the answer was
// asked for; it returns the Conn and the response (also c.Response()). On
// another status it returns a nil Conn, the response and a *HandshakeError
// holding it and its body, so a test can look at the code and headers such
// as Retry-After. When the answer is a 101 that fails the checks, it returns
// the response and a plain error. The socket is closed in all error cases.
func Dial(path string, opts *DialOptions) (*Conn, *http.Response, error) {
	var o DialOptions
	if opts != nil {
		o = *opts
	}
	if o.Host == "" {
		o.Host = "localhost"
	}
	if o.Path == "" {
		o.Path = "/"
	}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	var nc net.Conn
	var err error
	if o.Timeout > 0 {
		nc, err = net.DialTimeout("unix", path, o.Timeout)
	} else {
		nc, err = net.Dial("unix", path)
	}
	if err != nil {
		return nil, nil, err
	}
	c, resp, err := handshake(nc, &o)
	if err != nil {
		nc.Close()
		return nil, resp, err
	}
	return c, resp, nil
}

func handshake(nc net.Conn, o *DialOptions) (*Conn, *http.Response, error) {
	if o.Timeout > 0 {
		nc.SetDeadline(time.Now().Add(o.Timeout))
	}
	var nonce [16]byte
	rand.Read(nonce[:])
	h := http.Header{
		"Host":                  {o.Host},
		"Upgrade":               {"websocket"},
		"Connection":            {"Upgrade"},
		"Sec-Websocket-Version": {"13"},
		"Sec-Websocket-Key":     {base64.StdEncoding.EncodeToString(nonce[:])},
	}
	for k, vs := range o.Header {
		h[http.CanonicalHeaderKey(k)] = vs
	}
	var req bytes.Buffer
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\n", o.Path)
	// Dial's own headers first, then the rest sorted: the same request
	// bytes every time.
	order := []string{"Host", "Upgrade", "Connection", "Sec-Websocket-Version", "Sec-Websocket-Key"}
	var rest []string
	for k := range h {
		if !slices.Contains(order, k) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	for _, k := range append(order, rest...) {
		name := k
		if rest, ok := strings.CutPrefix(k, "Sec-Websocket-"); ok {
			name = "Sec-WebSocket-" + rest // the RFC's spelling; names are case-insensitive anyway
		}
		for _, v := range h[k] {
			fmt.Fprintf(&req, "%s: %s\r\n", name, v)
		}
	}
	req.WriteString("\r\n")
	if _, err := nc.Write(req.Bytes()); err != nil {
		return nil, nil, err
	}

	br := bufio.NewReaderSize(nc, readBufferSize)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return nil, resp, &HandshakeError{Response: resp, Body: body}
	}
	// A 101 has no body: http.ReadResponse stopped right after the header,
	// and br holds any frames that followed it.
	if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") {
		return nil, resp, fmt.Errorf("wstest: 101 with Upgrade %q", resp.Header.Get("Upgrade"))
	}
	if !hasToken(resp.Header.Values("Connection"), "upgrade") {
		return nil, resp, fmt.Errorf("wstest: 101 with Connection %q", resp.Header.Values("Connection"))
	}
	if got, want := resp.Header.Get("Sec-WebSocket-Accept"), acceptKey(h.Get("Sec-WebSocket-Key")); got != want {
		return nil, resp, fmt.Errorf("wstest: Sec-WebSocket-Accept %q, want %q", got, want)
	}
	if p := resp.Header.Get("Sec-WebSocket-Protocol"); p != "" && !hasToken(h.Values("Sec-WebSocket-Protocol"), p) {
		return nil, resp, fmt.Errorf("wstest: server chose subprotocol %q that was not offered", p)
	}
	if e := resp.Header.Values("Sec-WebSocket-Extensions"); len(e) > 0 && len(h.Values("Sec-WebSocket-Extensions")) == 0 {
		return nil, resp, fmt.Errorf("wstest: server chose extensions %q that were not offered", e)
	}
	nc.SetDeadline(time.Time{})
	return newConn(nc, br, resp), resp, nil
}

// newConn wraps a socket whose handshake is done; br may hold buffered
// bytes already read from nc.
func newConn(nc net.Conn, br *bufio.Reader, resp *http.Response) *Conn {
	return &Conn{nc: nc, br: br, bw: bufio.NewWriterSize(nc, writeBufferSize), resp: resp}
}

// hasToken reports whether the comma-separated lists in values contain
// token, compared case-insensitively.
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// NetConn is the underlying socket. Reading from it directly skips bytes
// already buffered by the Conn; writing to it directly bypasses frames
// buffered by WriteFrameNoFlush.
func (c *Conn) NetConn() net.Conn { return c.nc }

// Response is the server's 101 answer.
func (c *Conn) Response() *http.Response { return c.resp }

// SetDeadline bounds every later read and write, as net.Conn.SetDeadline;
// a zero t removes the bound. A read or write that times out leaves the
// Conn unusable (the stream is cut at an unknown point).
func (c *Conn) SetDeadline(t time.Time) error {
	if t.IsZero() {
		c.readDeadline.Store(0)
	} else {
		c.readDeadline.Store(t.UnixNano())
	}
	return c.nc.SetDeadline(t)
}

// Close closes the socket without sending a close frame; frames still
// buffered by WriteFrameNoFlush are dropped.
func (c *Conn) Close() error { return c.nc.Close() }

// Pongs returns copies of the pong payloads that ReadMessage, AppendMessage
// and ReadFragments skipped, oldest first. ReadFrame and ExpectClose do not
// record pongs.
func (c *Conn) Pongs() [][]byte {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	return slices.Clone(c.pongs)
}

func (c *Conn) recordPong(p []byte) {
	c.pmu.Lock()
	c.pongs = append(c.pongs, slices.Clone(p))
	c.pmu.Unlock()
}

// ExpectClose reads frames, skipping everything else and answering no
// pings, until a close frame arrives and then until the connection ends,
// all within timeout. It returns the close code (1005 when the close frame
// had no payload, -1 when the connection ended without a close frame), its
// reason, and eof, whether the server closed the socket within timeout.
//
// err is nil whenever a close frame or the end of the connection was seen:
// a close frame followed by an open socket is (code, reason, false, nil).
// err is the timeout error when neither came, and a *ProtocolError when
// the server broke the framing on the way (a 1-byte close payload, say).
// ExpectClose does not send a close frame back. It restores the read
// deadline set with SetDeadline before returning.
func (c *Conn) ExpectClose(timeout time.Duration) (code int, reason string, eof bool, err error) {
	c.nc.SetReadDeadline(time.Now().Add(timeout))
	defer func() {
		var d time.Time
		if ns := c.readDeadline.Load(); ns != 0 {
			d = time.Unix(0, ns)
		}
		c.nc.SetReadDeadline(d)
	}()
	code = -1
	for {
		f, err := c.ReadFrame()
		switch {
		case err == nil:
		case isTimeout(err):
			if code != -1 {
				return code, reason, false, nil
			}
			return code, reason, false, err
		case errors.As(err, new(*ProtocolError)), errors.Is(err, net.ErrClosed):
			return code, reason, false, err
		default: // EOF, reset, cut in the middle of a frame: the socket is closed
			return code, reason, true, nil
		}
		if f.Opcode == OpClose && code == -1 {
			ce, err := parseClose(f.Payload)
			if err != nil {
				return code, reason, false, err
			}
			code, reason = ce.Code, ce.Reason
		}
	}
}

func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}
