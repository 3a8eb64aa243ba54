// Package wstest is a raw RFC 6455 client over a UNIX-domain socket for the
// tests and tools of dorrit. It builds frames by hand so that tests can
// break the protocol on purpose, which no well-behaved client library does.
package wstest

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// DialOptions shape the upgrade request.
type DialOptions struct {
	Header  http.Header   // extra request headers: Origin, Cookie, Sec-WebSocket-Protocol…
	Host    string        // Host header; default "localhost"
	Path    string        // request path; default "/"
	Timeout time.Duration // dial and handshake; default 5s
}

// HandshakeError is a handshake answered without 101.
type HandshakeError struct {
	Response *http.Response
	Body     []byte
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("wstest: handshake refused: %s: %s", e.Response.Status, strings.TrimSpace(string(e.Body)))
}

// Conn is a client connection. Its methods are not safe for concurrent use,
// except that one goroutine may write while another reads.
type Conn struct {
	nc    net.Conn
	br    *bufio.Reader
	resp  *http.Response
	wbuf  []byte
	rbuf  []byte
	pongs [][]byte
}

// Dial connects to the unix socket at path and performs the upgrade. On a
// status other than 101 it returns a *HandshakeError (and the response).
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
	nc, err := net.DialTimeout("unix", path, o.Timeout)
	if err != nil {
		return nil, nil, err
	}
	nc.SetDeadline(time.Now().Add(o.Timeout))
	var nonce [16]byte
	rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	var req strings.Builder
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n", o.Path, o.Host, key)
	for k, vs := range o.Header {
		for _, v := range vs {
			fmt.Fprintf(&req, "%s: %s\r\n", k, v)
		}
	}
	req.WriteString("\r\n")
	if _, err := io.WriteString(nc, req.String()); err != nil {
		nc.Close()
		return nil, nil, err
	}
	br := bufio.NewReaderSize(nc, 64<<10)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		nc.Close()
		return nil, resp, &HandshakeError{Response: resp, Body: body}
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != base64.StdEncoding.EncodeToString(sum[:]) {
		nc.Close()
		return nil, resp, fmt.Errorf("wstest: wrong Sec-WebSocket-Accept %q", got)
	}
	nc.SetDeadline(time.Time{})
	return &Conn{nc: nc, br: br, resp: resp}, resp, nil
}

// NetConn is the underlying socket.
func (c *Conn) NetConn() net.Conn { return c.nc }

// Response is the server's 101 answer.
func (c *Conn) Response() *http.Response { return c.resp }

// SetDeadline bounds every later read and write.
func (c *Conn) SetDeadline(t time.Time) error { return c.nc.SetDeadline(t) }

// Close closes the socket without a close frame.
func (c *Conn) Close() error { return c.nc.Close() }

// Pongs returns the pong payloads ReadMessage skipped, oldest first.
func (c *Conn) Pongs() [][]byte { return c.pongs }
