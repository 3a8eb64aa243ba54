package dorrit_test

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/internal/wstest"
)

// rawRequest writes req to the socket and returns the status line.
func rawRequest(t *testing.T, ln *dorrit.Listener, req string) string {
	t.Helper()
	c, err := net.Dial("unix", sockPath(ln))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, _ := c.Read(buf)
	line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
	return line
}

const upgradeHeaders = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"

func TestHandshakeRefusals(t *testing.T) {
	ln := serve(t, dorrit.Options{}, echo)
	cases := []struct{ name, req, want string }{
		{"plain GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 426"},
		{"POST", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n" + upgradeHeaders + "Sec-WebSocket-Version: 13\r\n\r\n", "HTTP/1.1 405"},
		{"HTTP/1.0", "GET / HTTP/1.0\r\nHost: x\r\n" + upgradeHeaders + "Sec-WebSocket-Version: 13\r\n\r\n", "HTTP/1.1 400"},
		{"old version", "GET / HTTP/1.1\r\nHost: x\r\n" + upgradeHeaders + "Sec-WebSocket-Version: 8\r\n\r\n", "HTTP/1.1 426"},
		{"bad key", "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n", "HTTP/1.1 400"},
		{"garbage", "\x16\x03\x01 not http\r\n\r\n", "HTTP/1.1 400"},
		{"huge header", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 20<<10) + "\r\n\r\n", "HTTP/1.1 431"},
		{"valid", "GET / HTTP/1.1\r\nHost: x\r\n" + upgradeHeaders + "Sec-WebSocket-Version: 13\r\n\r\n", "HTTP/1.1 101"},
	}
	for _, tc := range cases {
		if got := rawRequest(t, ln, tc.req); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s: got %q, want %s", tc.name, got, tc.want)
		}
	}
	waitStats(t, ln, func(s dorrit.Stats) bool { return s.Refused.BadRequest == uint64(len(cases)-1) })
}

func dialWith(ln *dorrit.Listener, h http.Header, host string) (*wstest.Conn, int, error) {
	c, resp, err := wstest.Dial(sockPath(ln), &wstest.DialOptions{Header: h, Host: host})
	if err != nil {
		var he *wstest.HandshakeError
		if errors.As(err, &he) {
			return nil, he.Response.StatusCode, nil
		}
		return nil, 0, err
	}
	return c, resp.StatusCode, nil
}

// Browsers' cross-site requests are refused unless OriginPatterns allow them.
func TestOriginCheck(t *testing.T) {
	ln := serve(t, dorrit.Options{OriginPatterns: []string{"*.trusted.example"}}, echo)
	for _, tc := range []struct {
		origin, host string
		want         int
	}{
		{"", "chat.example", 101},
		{"https://chat.example", "chat.example", 101},
		{"https://CHAT.example", "chat.example", 101},
		{"https://app.trusted.example", "chat.example", 101},
		{"https://evil.example", "chat.example", 403},
		{"https://chat.example:8443", "chat.example", 403},
		{"null", "chat.example", 403},
	} {
		h := http.Header{}
		if tc.origin != "" {
			h.Set("Origin", tc.origin)
		}
		c, status, err := dialWith(ln, h, tc.host)
		if err != nil {
			t.Fatal(err)
		}
		if c != nil {
			c.Close()
		}
		if status != tc.want {
			t.Errorf("Origin %q Host %q: %d, want %d", tc.origin, tc.host, status, tc.want)
		}
	}
}

// Authorize sees the forwarded request; what the front server forwarded is
// available on the connection.
func TestAuthorizeAndForwardedRequest(t *testing.T) {
	seen := make(chan string, 1)
	ln := serve(t, dorrit.Options{
		Subprotocols: []string{"chat.v2", "chat.v1"},
		Authorize: func(r *http.Request) (any, error) {
			ck, err := r.Cookie("session")
			if err != nil || !strings.HasPrefix(ck.Value, "ok") {
				return nil, errors.New("no session")
			}
			return "user " + ck.Value, nil
		},
	}, func(c *dorrit.MessageConn) {
		ck, _ := c.Cookie("session")
		seen <- fmt.Sprintf("%s|%v|%s|%s|%s|%s|%s", ck.Value, c.Value(), c.Header().Get("Cookie"), c.Host(), c.Protocol(), c.Header().Get("X-Real-Ip"), c.URL().Path)
		echo(c)
	})
	_, status, err := dialWith(ln, http.Header{"Cookie": {"session=bad"}}, "")
	if err != nil || status != 403 {
		t.Fatalf("without a session: %d %v, want 403", status, err)
	}
	h := http.Header{
		"Cookie":                 {"session=ok42"},
		"X-Real-Ip":              {"192.0.2.7"},
		"Sec-WebSocket-Protocol": {"chat.v1, chat.v2"},
	}
	c, _, err := wstest.Dial(sockPath(ln), &wstest.DialOptions{Header: h, Host: "chat.example", Path: "/room/1"})
	if err != nil {
		t.Fatalf("with a session: %v", err)
	}
	defer c.Close()
	if got := c.Response().Header.Get("Sec-WebSocket-Protocol"); got != "chat.v2" {
		t.Fatalf("negotiated %q, want the server's preference chat.v2", got)
	}
	if got, want := <-seen, "ok42|user ok42|session=ok42|chat.example|chat.v2|192.0.2.7|/room/1"; got != want {
		t.Fatalf("connection saw %q, want %q", got, want)
	}
	if s := ln.Stats(); s.Refused.Unauthorized != 1 {
		t.Fatalf("Refused.Unauthorized = %d", s.Refused.Unauthorized)
	}
}

// Frames sent right behind the upgrade request are not lost.
func TestFramesRightAfterUpgrade(t *testing.T) {
	ln := serve(t, dorrit.Options{}, echo)
	c, err := net.Dial("unix", sockPath(ln))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	frame := []byte{0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2}
	c.Write(append([]byte("GET / HTTP/1.1\r\nHost: x\r\n"+upgradeHeaders+"Sec-WebSocket-Version: 13\r\n\r\n"), frame...))
	buf := make([]byte, 0, 512)
	for !strings.HasSuffix(string(buf), "\x81\x02hi") {
		n, err := c.Read(buf[len(buf):cap(buf)])
		if err != nil {
			t.Fatalf("echo of the early frame never came: %q %v", buf, err)
		}
		buf = buf[:len(buf)+n]
	}
	if !strings.HasSuffix(string(buf), "\r\n\r\n\x81\x02hi") {
		t.Fatalf("got %q", buf)
	}
}

// A client offering "Chat" to a server speaking "chat" gets no sub-protocol:
// browsers fail the connection unless the answer is exactly one of their
// offers, so a case-insensitive match would break it.
func TestSubprotocolExactMatch(t *testing.T) {
	protocols := make(chan string, 4)
	ln := serve(t, dorrit.Options{Subprotocols: []string{"chat"}}, func(c *dorrit.MessageConn) {
		protocols <- c.Protocol()
		echo(c)
	})
	for _, tc := range []struct{ offer, want string }{
		{"Chat", ""},
		{"CHAT, Chat", ""},
		{"Chat, chat", "chat"},
		{"chat", "chat"},
	} {
		c, _, err := wstest.Dial(sockPath(ln), &wstest.DialOptions{
			Header: http.Header{"Sec-WebSocket-Protocol": {tc.offer}}})
		if err != nil {
			t.Fatalf("offer %q: %v", tc.offer, err)
		}
		got := c.Response().Header.Values("Sec-WebSocket-Protocol")
		c.Close()
		if tc.want == "" && len(got) != 0 || tc.want != "" && (len(got) != 1 || got[0] != tc.want) {
			t.Errorf("offer %q: answered Sec-WebSocket-Protocol %q, want %q", tc.offer, got, tc.want)
		}
		if p := <-protocols; p != tc.want {
			t.Errorf("offer %q: Protocol() = %q, want %q", tc.offer, p, tc.want)
		}
	}
}

// An OriginPatterns entry without a port accepts its host on any port, as a
// site on https://example.com:8443 expects; the check happens on the socket.
func TestOriginPatternAnyPort(t *testing.T) {
	ln := serve(t, dorrit.Options{OriginPatterns: []string{"example.com", "pinned.example:8443"}}, echo)
	for _, tc := range []struct {
		origin string
		want   int
	}{
		{"https://example.com", 101},
		{"https://example.com:8443", 101},
		{"https://pinned.example:8443", 101},
		{"https://pinned.example:9443", 403},
		{"https://evil.example:8443", 403},
	} {
		c, status, err := dialWith(ln, http.Header{"Origin": {tc.origin}}, "chat.example")
		if err != nil {
			t.Fatal(err)
		}
		if c != nil {
			c.Close()
		}
		if status != tc.want {
			t.Errorf("Origin %q: %d, want %d", tc.origin, status, tc.want)
		}
	}
}

// A hanging Authorize holds the handshake only until HandshakeTimeout: its
// request's context ends at the handshake deadline, and the client is then
// answered 503 with Retry-After whether Authorize returns or not.
func TestAuthorizeBoundedByHandshakeTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	for _, tc := range []struct {
		name      string
		authorize func(r *http.Request, release <-chan struct{}) error
	}{
		{"until its context ends", func(r *http.Request, _ <-chan struct{}) error {
			<-r.Context().Done()
			return r.Context().Err()
		}},
		{"until the test ends", func(r *http.Request, release <-chan struct{}) error {
			<-release
			return nil // a late yes must not upgrade anything
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			releaseOnce := sync.OnceFunc(func() { close(release) })
			t.Cleanup(releaseOnce) // also when the test fails early
			returned := make(chan struct{})
			deadline := make(chan time.Time, 1)
			ln := serve(t, dorrit.Options{HandshakeTimeout: timeout, Authorize: func(r *http.Request) (any, error) {
				defer close(returned)
				dl, _ := r.Context().Deadline()
				deadline <- dl
				return nil, tc.authorize(r, release)
			}}, echo)
			start := time.Now()
			_, resp, err := wstest.Dial(sockPath(ln), &wstest.DialOptions{Timeout: 5 * time.Second})
			end := time.Now()
			var he *wstest.HandshakeError
			if !errors.As(err, &he) {
				t.Fatalf("after %v: %v; want 503 once HandshakeTimeout %v passed", end.Sub(start), err, timeout)
			}
			if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("got %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
			}
			// The deadline is HandshakeTimeout after the connection was
			// accepted, which happened between start and end.
			if dl := <-deadline; dl.Before(start.Add(timeout)) || dl.After(end) {
				t.Errorf("Authorize's context deadline %v after dialling, want %v after accepting (answer came after %v)",
					dl.Sub(start), timeout, end.Sub(start))
			}
			releaseOnce()
			<-returned
			if s := ln.Stats(); s.Refused.Timeout != 1 || s.Refused.Unauthorized != 0 || s.Accepted != 0 || s.Live != 0 {
				t.Fatalf("stats %+v; want one Refused.Timeout and nothing upgraded", s)
			}
		})
	}
}

// Half-sent upgrade requests cannot pile up goroutines: past the limit of
// handshakes in progress (MaxConns, but at least 64) the next connection is
// answered 503 with Retry-After at once, long before HandshakeTimeout, and
// the places free up when the held connections go.
func TestHandshakesInProgressBounded(t *testing.T) {
	const n, limit = 200, 64 // limit: max(2 × MaxConns, 64)
	ln := serve(t, dorrit.Options{MaxConns: 10, HandshakeTimeout: time.Minute}, echo)

	type answer struct {
		status     int
		retryAfter string
		err        error
	}
	answers := make(chan answer, n)
	deadline := time.Now().Add(10 * time.Second)
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := net.Dial("unix", sockPath(ln))
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		c.SetDeadline(deadline)
		// No blank line: the request never ends. A connection over the
		// limit may be answered and closed before this write, which then
		// fails (EPIPE) while the 503 waits to be read, so the error is
		// left to the read below.
		c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n" + upgradeHeaders))
		go func() {
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				answers <- answer{err: err}
				return
			}
			answers <- answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
		}()
	}
	refused := 0
	for refused < n-limit {
		a := <-answers // every read ends by the deadline
		switch {
		case a.err != nil:
			t.Fatalf("%d of %d half-sent requests were answered 503 within 10 s (HandshakeTimeout is a minute); then: %v",
				refused, n, a.err)
		case a.status != 503 || a.retryAfter == "":
			t.Fatalf("a half-sent request got %d, Retry-After %q; want 503 with Retry-After", a.status, a.retryAfter)
		}
		refused++
	}
	if s := ln.Stats(); s.Accepted != 0 || s.Live != 0 || s.Refused.Full < n-limit {
		t.Fatalf("stats %+v; want at least %d Refused.Full and nothing upgraded", s, n-limit)
	}

	for _, c := range conns {
		c.Close()
	}
	// Each held handshake ends when its client goes; then there is room.
	// A handshake counts its end a moment before it leaves the count of
	// handshakes in progress, so the honest client may still meet a 503
	// just after; it retries until the deadline, as a browser would.
	waitStats(t, ln, func(s dorrit.Stats) bool { return s.Refused.Full+s.Refused.Timeout == n })
	for {
		c, resp, err := wstest.Dial(sockPath(ln), nil)
		if err == nil {
			c.Close()
			break
		}
		if resp == nil || resp.StatusCode != 503 || time.Now().After(deadline) {
			t.Fatalf("an honest client after the flood: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A request still incomplete at HandshakeTimeout is a timeout, wherever it
// was cut (slowloris sends a line in pieces): the client gets no answer and
// Stats counts it as Refused.Timeout, not as a bad request.
func TestHandshakeCutMidLineIsATimeout(t *testing.T) {
	ln := serve(t, dorrit.Options{HandshakeTimeout: 200 * time.Millisecond}, echo)
	for _, cut := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n",             // between lines
		"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: web", // inside a header line
		"GET / HT", // inside the request line
	} {
		if got := rawRequest(t, ln, cut); got != "" {
			t.Errorf("request cut as %q: answered %q, want no answer", cut, got)
		}
	}
	waitStats(t, ln, func(s dorrit.Stats) bool { return s.Refused.Timeout == 3 })
	if s := ln.Stats(); s.Refused.BadRequest != 0 {
		t.Fatalf("Stats.Refused.BadRequest = %d, want 0", s.Refused.BadRequest)
	}
}

// The origin check and Authorize cannot be sidestepped by the request's
// form: header names in any case are the same header, and a request that
// names its host or origin twice, or its host in the request target, is
// refused as ambiguous.
func TestOriginCheckCannotBeSidestepped(t *testing.T) {
	ln := serve(t, dorrit.Options{}, echo)
	const key = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	cases := []struct{ name, req, want string }{
		{"lower-case origin", "GET / HTTP/1.1\r\nHost: good.example\r\norigin: https://evil.example\r\n" + key + "\r\n", "HTTP/1.1 403"},
		{"upper-case origin", "GET / HTTP/1.1\r\nHost: good.example\r\nORIGIN: https://evil.example\r\n" + key + "\r\n", "HTTP/1.1 403"},
		{"two origins", "GET / HTTP/1.1\r\nHost: good.example\r\nOrigin: https://good.example\r\nOrigin: https://evil.example\r\n" + key + "\r\n", "HTTP/1.1 400"},
		{"two hosts", "GET / HTTP/1.1\r\nHost: good.example\r\nHost: evil.example\r\nOrigin: https://evil.example\r\n" + key + "\r\n", "HTTP/1.1 400"},
		{"absolute-form target", "GET http://evil.example/ HTTP/1.1\r\nHost: good.example\r\nOrigin: https://evil.example\r\n" + key + "\r\n", "HTTP/1.1 400"},
		{"same origin", "GET / HTTP/1.1\r\nHost: good.example\r\nOrigin: https://good.example\r\n" + key + "\r\n", "HTTP/1.1 101"},
	}
	for _, tc := range cases {
		if got := rawRequest(t, ln, tc.req); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s: got %q, want %s", tc.name, got, tc.want)
		}
	}
}

// 2,000 slowloris requests against the default limits are held until
// HandshakeTimeout and closed then, while a normal client still connects.
func TestSlowlorisLeavesRoomForNormalClients(t *testing.T) {
	if testing.Short() {
		t.Skip("holds 2,000 connections")
	}
	const n = 2000
	ln := serve(t, dorrit.Options{HandshakeTimeout: 2 * time.Second}, echo)
	for range n {
		c, err := net.Dial("unix", sockPath(ln))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n")) // and never the rest
	}
	waitStats(t, ln, func(s dorrit.Stats) bool { return s.Handshaking == n })
	start := time.Now()
	roundTrip(t, dialRaw(t, ln), "normal")
	t.Logf("a normal client connected and echoed in %v beside %d slowloris requests", time.Since(start).Round(time.Microsecond), n)
	waitStats(t, ln, func(s dorrit.Stats) bool { return s.Refused.Timeout == n && s.Handshaking == 0 })
	if s := ln.Stats(); s.Refused.Full != 0 {
		t.Fatalf("%d refused for capacity", s.Refused.Full)
	}
}

// A 426 names what to upgrade to and that the connection closes, in one
// Connection field: two Connection lines that disagree ("close" and
// "Upgrade") leave a client or proxy to pick one.
func TestUpgradeRequiredAnswer(t *testing.T) {
	ln := serve(t, dorrit.Options{}, echo)
	for _, req := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\n" + upgradeHeaders + "Sec-WebSocket-Version: 8\r\n\r\n",
	} {
		c, err := net.Dial("unix", sockPath(ln))
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte(req))
		// Read as sent: net/http's ReadResponse takes "close" out.
		tp := textproto.NewReader(bufio.NewReader(c))
		status, err := tp.ReadLine()
		if err != nil || !strings.HasPrefix(status, "HTTP/1.1 426 ") {
			t.Fatalf("status line %q, %v; want 426", status, err)
		}
		h, err := tp.ReadMIMEHeader()
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		conn := h.Values("Connection")
		if len(conn) != 1 || !headerTokens(conn[0], "upgrade", "close") || h.Get("Upgrade") != "websocket" {
			t.Errorf("426 with Connection %q, Upgrade %q; want one Connection: Upgrade, close and Upgrade: websocket",
				conn, h.Get("Upgrade"))
		}
	}
}

// headerTokens reports whether the comma-separated value holds every token.
func headerTokens(value string, tokens ...string) bool {
	have := map[string]bool{}
	for t := range strings.SplitSeq(value, ",") {
		have[strings.ToLower(strings.TrimSpace(t))] = true
	}
	for _, t := range tokens {
		if !have[t] {
			return false
		}
	}
	return true
}
