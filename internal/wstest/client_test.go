package wstest

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The test server: just enough of a WebSocket server to see what the client
// sends. It parses each client frame, reports it on frames, and echoes data
// frames unmasked with the same FIN and opcode, so fragments come back as
// fragments. A text frame "cmd:..." is a command instead (see command).

// srvFrame is a client frame as the test server parsed it.
type srvFrame struct {
	fin     bool
	rsv, op byte
	masked  bool
	form    int    // how the length was encoded: 7, 16 or 64 bits
	length  uint64 // the announced length
	key     [4]byte
	payload []byte // unmasked; nil when not read (more than 1 MiB announced)
}

type testServer struct {
	path   string
	frames chan srvFrame

	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func newServer(t *testing.T) *testServer {
	t.Helper()
	s := &testServer{path: filepath.Join(t.TempDir(), "ws.sock"), frames: make(chan srvFrame, 1024)}
	ln, err := net.Listen("unix", s.path)
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(s.handle)}
	go hs.Serve(ln)
	t.Cleanup(func() {
		hs.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *testServer) dial(t *testing.T) *Conn {
	t.Helper()
	c, _, err := Dial(s.path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// next returns the next client frame the server parsed.
func (s *testServer) next(t *testing.T) srvFrame {
	t.Helper()
	select {
	case f := <-s.frames:
		return f
	case <-time.After(5 * time.Second):
		t.Fatal("the server saw no frame")
		return srvFrame{}
	}
}

func (s *testServer) handle(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/busy" {
		w.Header().Set("Retry-After", "7")
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		w.Header().Set("Sec-WebSocket-Version", "13")
		http.Error(w, "version 13 only", http.StatusUpgradeRequired)
		return
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || !strings.EqualFold(r.Header.Get("Connection"), "upgrade") || key == "" {
		http.Error(w, "not a WebSocket upgrade", http.StatusBadRequest)
		return
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	accept := base64.StdEncoding.EncodeToString(sum[:])
	if r.URL.Path == "/badaccept" {
		accept = "dGhlIHNhbXBsZSBub25jZQ=="
	}
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	s.wg.Add(1)
	defer s.wg.Done()
	s.mu.Lock()
	s.conns = append(s.conns, nc)
	s.mu.Unlock()
	defer nc.Close()

	out := fmt.Appendf(nil, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\nX-Seen-Host: %s\r\nX-Seen-Path: %s\r\nX-Seen-Origin: %s\r\n",
		accept, r.Host, r.URL.Path, r.Header.Get("Origin"))
	if p, _, _ := strings.Cut(r.Header.Get("Sec-WebSocket-Protocol"), ","); p != "" {
		out = fmt.Appendf(out, "Sec-WebSocket-Protocol: %s\r\n", p)
	} else if r.URL.Path == "/force-protocol" {
		out = append(out, "Sec-WebSocket-Protocol: chat\r\n"...)
	}
	out = append(out, "\r\n"...)
	if r.URL.Path == "/greet" { // a frame in the same write as the 101
		out = serverFrame(out, true, OpText, []byte("welcome"))
	}
	if _, err := nc.Write(out); err != nil {
		return
	}
	s.serve(nc, brw.Reader)
}

// serverFrame appends an unmasked server frame with a minimal length.
func serverFrame(b []byte, fin bool, op byte, p []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	switch n := len(p); {
	case n < 126:
		b = append(b, b0, byte(n))
	case n <= 0xffff:
		b = binary.BigEndian.AppendUint16(append(b, b0, 126), uint16(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, b0, 127), uint64(n))
	}
	return append(b, p...)
}

func readClientFrame(br *bufio.Reader) (srvFrame, error) {
	var f srvFrame
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return f, err
	}
	f.fin, f.rsv, f.op = h[0]&0x80 != 0, h[0]>>4&7, h[0]&0xF
	f.masked = h[1]&0x80 != 0
	f.form, f.length = 7, uint64(h[1]&0x7f)
	var ext [8]byte
	switch f.length {
	case 126:
		if _, err := io.ReadFull(br, ext[:2]); err != nil {
			return f, err
		}
		f.form, f.length = 16, uint64(binary.BigEndian.Uint16(ext[:]))
	case 127:
		if _, err := io.ReadFull(br, ext[:]); err != nil {
			return f, err
		}
		f.form, f.length = 64, binary.BigEndian.Uint64(ext[:])
	}
	if f.masked {
		if _, err := io.ReadFull(br, f.key[:]); err != nil {
			return f, err
		}
	}
	if f.length > 1<<20 {
		return f, nil
	}
	f.payload = make([]byte, f.length)
	if _, err := io.ReadFull(br, f.payload); err != nil {
		return f, err
	}
	if f.masked {
		for i := range f.payload {
			f.payload[i] ^= f.key[i&3]
		}
	}
	return f, nil
}

func (s *testServer) serve(nc net.Conn, br *bufio.Reader) {
	for {
		f, err := readClientFrame(br)
		if err != nil {
			return
		}
		select {
		case s.frames <- f:
		default:
		}
		if f.payload == nil {
			return // more announced than the server will read
		}
		var out []byte
		switch f.op {
		case OpText, OpBinary, OpContinuation:
			if cmd, ok := bytes.CutPrefix(f.payload, []byte("cmd:")); ok && f.op == OpText {
				if !command(nc, strings.Fields(string(cmd))) {
					return
				}
				continue
			}
			out = serverFrame(nil, f.fin, f.op, f.payload)
		case OpPing:
			out = serverFrame(nil, true, OpPong, f.payload)
		case OpClose:
			nc.Write(serverFrame(nil, true, OpClose, f.payload))
			return
		}
		if out != nil {
			if _, err := nc.Write(out); err != nil {
				return
			}
		}
	}
}

// command carries out a test's order and tells whether to go on reading.
func command(nc net.Conn, args []string) bool {
	after := serverFrame(nil, true, OpText, []byte("after"))
	var out []byte
	switch args[0] {
	case "ping": // ping with args[1], then text "pinged"
		out = serverFrame(out, true, OpPing, []byte(args[1]))
		out = serverFrame(out, true, OpText, []byte("pinged"))
	case "pong": // an unsolicited pong, then "after"
		out = append(serverFrame(out, true, OpPong, []byte(args[1])), after...)
	case "frag": // a text message in the fragments args[1:]
		for i, p := range args[1:] {
			op := byte(OpContinuation)
			if i == 0 {
				op = OpText
			}
			out = serverFrame(out, i == len(args)-2, op, []byte(p))
		}
	case "close", "closestay": // a close frame [code [reason]]; close drops the socket after it
		var p []byte
		if len(args) > 1 {
			code, _ := strconv.Atoi(args[1])
			p = binary.BigEndian.AppendUint16(p, uint16(code))
		}
		if len(args) > 2 {
			p = append(p, args[2]...)
		}
		nc.Write(serverFrame(nil, true, OpClose, p))
		return args[0] == "closestay"
	case "drop": // end without a close frame
		return false
	case "masked": // a masked text frame "oops", then "after"
		key := [4]byte{1, 2, 3, 4}
		out = append(out, 0x81, 0x80|4)
		out = append(out, key[:]...)
		for i, b := range []byte("oops") {
			out = append(out, b^key[i&3])
		}
		out = append(out, after...)
	case "long16": // "x" in the 16-bit length form, then "after"
		out = append(append(out, 0x81, 126, 0, 1, 'x'), after...)
	case "bigping": // a 126-byte ping, then "after"
		out = append(serverFrame(out, true, OpPing, make([]byte, 126)), after...)
	case "op3": // a data frame with opcode 3, then "after"
		out = append(serverFrame(out, true, 3, []byte("?")), after...)
	}
	_, err := nc.Write(out)
	return err == nil
}

func TestDial(t *testing.T) {
	s := newServer(t)
	h := http.Header{"Origin": {"https://a.example"}, "Sec-WebSocket-Protocol": {"chat, superchat"}}
	c, resp, err := Dial(s.path, &DialOptions{Header: h, Host: "chat.example", Path: "/room/1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if resp != c.Response() || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("response %v, c.Response() %v", resp, c.Response())
	}
	for k, want := range map[string]string{
		"X-Seen-Host":            "chat.example",
		"X-Seen-Path":            "/room/1",
		"X-Seen-Origin":          "https://a.example",
		"Sec-WebSocket-Protocol": "chat",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if c.NetConn() == nil {
		t.Fatal("no NetConn")
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := c.WriteText([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if op, got, err := c.ReadMessage(); err != nil || op != OpText || string(got) != "hello" {
		t.Fatalf("echo: %d %q %v", op, got, err)
	}
}

func TestDialDefaults(t *testing.T) {
	s := newServer(t)
	c, resp, err := Dial(s.path, &DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if h, p := resp.Header.Get("X-Seen-Host"), resp.Header.Get("X-Seen-Path"); h != "localhost" || p != "/" {
		t.Fatalf("host %q path %q, want localhost /", h, p)
	}
}

func TestHandshakeRefused(t *testing.T) {
	s := newServer(t)
	c, resp, err := Dial(s.path, &DialOptions{Path: "/busy"})
	var he *HandshakeError
	if !errors.As(err, &he) || c != nil {
		t.Fatalf("got %v, %v; want a *HandshakeError", c, err)
	}
	if resp != he.Response || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "7" {
		t.Fatalf("response %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if string(he.Body) != "busy\n" {
		t.Fatalf("body %q", he.Body)
	}
	if b, _ := io.ReadAll(resp.Body); string(b) != "busy\n" {
		t.Fatalf("resp.Body %q", b)
	}
	if !strings.Contains(err.Error(), "503") {
		t.Fatalf("error %q does not say 503", err)
	}

	// A header of Dial's own can be replaced to break the handshake.
	_, resp, err = Dial(s.path, &DialOptions{Header: http.Header{"Sec-WebSocket-Version": {"8"}}})
	if !errors.As(err, &he) || resp.StatusCode != http.StatusUpgradeRequired || resp.Header.Get("Sec-WebSocket-Version") != "13" {
		t.Fatalf("version 8: %v", err)
	}
	// ... or removed.
	_, resp, err = Dial(s.path, &DialOptions{Header: http.Header{"Upgrade": nil}})
	if !errors.As(err, &he) || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("no Upgrade: %v", err)
	}
}

func TestHandshakeChecks101(t *testing.T) {
	s := newServer(t)
	for _, path := range []string{"/badaccept", "/force-protocol"} {
		c, resp, err := Dial(s.path, &DialOptions{Path: path})
		var he *HandshakeError
		if err == nil || errors.As(err, &he) || c != nil {
			t.Fatalf("%s: got %v, %v; want a plain error", path, c, err)
		}
		if resp == nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("%s: response %v", path, resp)
		}
	}
}

func TestDialNoServer(t *testing.T) {
	if _, _, err := Dial(filepath.Join(t.TempDir(), "none"), nil); err == nil {
		t.Fatal("Dial to a missing socket succeeded")
	}
}

func TestFrameRightAfter101(t *testing.T) {
	s := newServer(t)
	c, _, err := Dial(s.path, &DialOptions{Path: "/greet"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, got, err := c.ReadMessage(); err != nil || string(got) != "welcome" {
		t.Fatalf("got %q %v, want welcome", got, err)
	}
}

func TestEcho(t *testing.T) {
	s := newServer(t)
	c := s.dial(t)
	big := make([]byte, 300_000) // several write buffers: masked in pieces
	for i := range big {
		big[i] = byte(i * 7)
	}
	for _, tc := range []struct {
		op   byte
		msg  []byte
		form int
	}{
		{OpText, []byte("hello"), 7},
		{OpBinary, []byte{0, 1, 2, 0xff}, 7},
		{OpText, nil, 7},
		{OpBinary, big[:125], 7},
		{OpBinary, big[:126], 16},
		{OpBinary, big[:0xffff], 16},
		{OpBinary, big[:0x10000], 64},
		{OpBinary, big, 64},
	} {
		if err := c.WriteFrame(Frame{Fin: true, Opcode: tc.op, Payload: tc.msg}); err != nil {
			t.Fatal(err)
		}
		f := s.next(t)
		if !f.fin || f.op != tc.op || !f.masked || f.rsv != 0 || f.form != tc.form || !bytes.Equal(f.payload, tc.msg) {
			t.Fatalf("%d bytes: the server saw fin %v op %d masked %v rsv %d form %d", len(tc.msg), f.fin, f.op, f.masked, f.rsv, f.form)
		}
		op, got, err := c.ReadMessage()
		if err != nil || op != tc.op || !bytes.Equal(got, tc.msg) {
			t.Fatalf("%d bytes: echo op %d, %d bytes, %v", len(tc.msg), op, len(got), err)
		}
	}
	if err := c.WriteBinary([]byte("bin")); err != nil {
		t.Fatal(err)
	}
	if op, got, err := c.ReadMessage(); err != nil || op != OpBinary || string(got) != "bin" {
		t.Fatalf("WriteBinary echo: %d %q %v", op, got, err)
	}
}

func TestWriteRaw(t *testing.T) {
	s := newServer(t)
	c := s.dial(t)
	b, err := AppendFrame(nil, Frame{Fin: true, Opcode: OpText, Payload: []byte("in two writes")})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WriteRaw(b[:3]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	if err := c.WriteRaw(b[3:]); err != nil {
		t.Fatal(err)
	}
	if _, got, err := c.ReadMessage(); err != nil || string(got) != "in two writes" {
		t.Fatalf("got %q %v", got, err)
	}
}

func TestFragments(t *testing.T) {
	s := newServer(t)
	c := s.dial(t)
	send := func() {
		t.Helper()
		for i, p := range []string{"ab", "", "cde"} {
			op := byte(OpContinuation)
			if i == 0 {
				op = OpText
			}
			if err := c.WriteFrame(Frame{Fin: i == 2, Opcode: op, Payload: []byte(p)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	send()
	frames, err := c.ReadFragments()
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%+v", frames); got != "[{Fin:false RSV:0 Opcode:1 Masked:false Payload:[97 98]} {Fin:false RSV:0 Opcode:0 Masked:false Payload:[]} {Fin:true RSV:0 Opcode:0 Masked:false Payload:[99 100 101]}]" {
		t.Fatalf("fragments %s", got)
	}
	send()
	if op, got, err := c.ReadMessage(); err != nil || op != OpText || string(got) != "abcde" {
		t.Fatalf("reassembled: %d %q %v", op, got, err)
	}
	if err := c.WriteText([]byte("cmd:frag x y z")); err != nil {
		t.Fatal(err)
	}
	buf := []byte("prefix:")
	op, buf, err := c.AppendMessage(buf)
	if err != nil || op != OpText || string(buf) != "prefix:xyz" {
		t.Fatalf("AppendMessage: %d %q %v", op, buf, err)
	}
}

func TestServerPingAnswered(t *testing.T) {
	s := newServer(t)
	c := s.dial(t)
	if err := c.WriteText([]byte("cmd:ping hello")); err != nil {
		t.Fatal(err)
	}
	if _, got, err := c.ReadMessage(); err != nil || string(got) != "pinged" {
		t.Fatalf("got %q %v, want pinged", got, err)
	}
	s.next(t) // the command
	if f := s.next(t); f.op != OpPong || !f.fin || !f.masked || string(f.payload) != "hello" {
		t.Fatalf("the server got op %d fin %v masked %v %q, want a masked pong hello", f.op, f.fin, f.masked, f.payload)
	}
}

func TestPongs(t *testing.T) {
	s := newServer(t)
	c := s.dial(t)
	if err := c.Ping([]byte("p1")); err != nil {
		t.Fatal(err)
	}
	if f, err := c.ReadFrame(); err != nil || f.Opcode != OpPong || !f.Fin || string(f.Payload) != "p1" {
		t.Fatalf("ReadFrame: %+v %v, want pong p1", f, err)
	}
	if len(c.Pongs()) != 0 {
		t.Fatal("ReadFrame recorded a pong")
	}
	c.Ping([]byte("p2"))
	c.WriteText([]byte("cmd:pong p3"))
	if _, got, err := c.ReadMessage(); err != nil || string(got) != "after" {
		t.Fatalf("got %q %v", got, err)
	}
	if got := fmt.Sprintf("%q", c.Pongs()); got != `["p2" "p3"]` {
		t.Fatalf("Pongs %s", got)
	}
}

func TestCloseFrames(t *testing.T) {
	s := newServer(t)

	c := s.dial(t)
	c.WriteText([]byte("cmd:close 4001 bye"))
	var ce *CloseFrameError
	if _, _, err := c.ReadMessage(); !errors.As(err, &ce) || ce.Code != 4001 || ce.Reason != "bye" {
		t.Fatalf("ReadMessage: %v, want close 4001 bye", err)
	}

	c = s.dial(t)
	c.WriteText([]byte("cmd:close"))
	if _, err := c.ReadFragments(); !errors.As(err, &ce) || ce.Code != 1005 || ce.Reason != "" {
		t.Fatalf("ReadFragments: %v, want close 1005", err)
	}

	for _, tc := range []struct {
		cmd    string
		code   int
		reason string
		eof    bool
	}{
		{"cmd:close 4002 gone", 4002, "gone", true},
		{"cmd:close", 1005, "", true},
		{"cmd:drop", -1, "", true},
		{"cmd:closestay 1000", 1000, "", false},
	} {
		c := s.dial(t)
		c.WriteText([]byte("data first"))
		c.WriteText([]byte(tc.cmd))
		// Waiting for EOF that must come may take long on a loaded
		// machine; confirming that none comes takes the whole wait.
		wait := 5 * time.Second
		if !tc.eof {
			wait = 300 * time.Millisecond
		}
		code, reason, eof, err := c.ExpectClose(wait)
		if err != nil || code != tc.code || reason != tc.reason || eof != tc.eof {
			t.Fatalf("%s: ExpectClose %d %q %v %v, want %d %q %v", tc.cmd, code, reason, eof, err, tc.code, tc.reason, tc.eof)
		}
	}

	// Nothing at all: a timeout.
	c = s.dial(t)
	if code, _, eof, err := c.ExpectClose(50 * time.Millisecond); code != -1 || eof || !isTimeout(err) {
		t.Fatalf("silence: %d %v %v, want -1 false and a timeout", code, eof, err)
	}

	// A close code that must not be sent.
	c = s.dial(t)
	c.WriteText([]byte("cmd:close 1005"))
	var pe *ProtocolError
	if _, _, err := c.ReadMessage(); !errors.As(err, &pe) {
		t.Fatalf("close 1005: %v, want a *ProtocolError", err)
	}
}

func TestWriteClose(t *testing.T) {
	s := newServer(t)
	c := s.dial(t)
	if err := c.WriteClose(1000, "done"); err != nil {
		t.Fatal(err)
	}
	if f := s.next(t); f.op != OpClose || !f.fin || !f.masked || string(f.payload) != "\x03\xe8done" {
		t.Fatalf("the server got op %d %q", f.op, f.payload)
	}
	if code, reason, eof, err := c.ExpectClose(5 * time.Second); code != 1000 || reason != "done" || !eof || err != nil {
		t.Fatalf("ExpectClose %d %q %v %v", code, reason, eof, err)
	}

	c = s.dial(t)
	if err := c.WriteClose(-1, "ignored"); err != nil {
		t.Fatal(err)
	}
	if f := s.next(t); f.op != OpClose || len(f.payload) != 0 {
		t.Fatalf("the server got op %d %q, want an empty close", f.op, f.payload)
	}
	if err := c.WriteClose(70000, ""); err == nil {
		t.Fatal("close code 70000 accepted")
	}
}

func TestDeadlines(t *testing.T) {
	s := newServer(t)
	c := s.dial(t)
	c.SetDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := c.ReadFrame(); !isTimeout(err) {
		t.Fatalf("ReadFrame after the deadline: %v", err)
	}

	// ExpectClose puts back the deadline it found.
	c = s.dial(t)
	c.WriteText([]byte("cmd:closestay 1000"))
	c.SetDeadline(time.Now().Add(-time.Second))
	if code, _, eof, err := c.ExpectClose(200 * time.Millisecond); code != 1000 || eof || err != nil {
		t.Fatalf("ExpectClose %d %v %v", code, eof, err)
	}
	start := time.Now()
	if _, err := c.ReadFrame(); !isTimeout(err) || time.Since(start) > time.Second {
		t.Fatalf("ReadFrame: %v after %v, want the old deadline", err, time.Since(start))
	}
}

func TestStrictReading(t *testing.T) {
	s := newServer(t)
	c := s.dial(t)
	var pe *ProtocolError

	c.WriteText([]byte("cmd:masked"))
	f, err := c.ReadFrame()
	if !errors.As(err, &pe) || !f.Masked || string(f.Payload) != "oops" {
		t.Fatalf("masked frame: %+v %v", f, err)
	}
	if _, got, err := c.ReadMessage(); err != nil || string(got) != "after" {
		t.Fatalf("after the masked frame: %q %v", got, err)
	}

	for _, cmd := range []string{"cmd:masked", "cmd:long16", "cmd:bigping", "cmd:op3"} {
		c.WriteText([]byte(cmd))
		if _, _, err := c.ReadMessage(); !errors.As(err, &pe) {
			t.Fatalf("%s: %v, want a *ProtocolError", cmd, err)
		}
		if _, got, err := c.ReadMessage(); err != nil || string(got) != "after" {
			t.Fatalf("%s: then %q %v", cmd, got, err)
		}
	}

	// A continuation with no message, then a text frame inside a message.
	c.WriteFrame(Frame{Fin: true, Opcode: OpContinuation, Payload: []byte("c")})
	if _, err := c.ReadFragments(); !errors.As(err, &pe) {
		t.Fatalf("lone continuation: %v", err)
	}
	c.WriteFrame(Frame{Opcode: OpText, Payload: []byte("a")})
	c.WriteFrame(Frame{Fin: true, Opcode: OpText, Payload: []byte("b")})
	if _, _, err := c.ReadMessage(); !errors.As(err, &pe) {
		t.Fatalf("text inside a message: %v", err)
	}
}

func TestEncodings(t *testing.T) {
	s := newServer(t)
	u := func(n uint64) *uint64 { return &n }
	key := &[4]byte{0x37, 0xfa, 0x21, 0x3d}
	hi := []byte("hi")
	for _, tc := range []struct {
		name string
		f    Frame
		want srvFrame // key is checked only when f.Key is set
	}{
		{"plain", Frame{Fin: true, Opcode: OpText, Payload: hi}, srvFrame{fin: true, op: 1, masked: true, form: 7, length: 2, payload: hi}},
		{"zero value", Frame{}, srvFrame{masked: true, form: 7, payload: []byte{}}},
		{"unmasked", Frame{Fin: true, Opcode: OpText, Payload: hi, Unmasked: true, Key: key}, srvFrame{fin: true, op: 1, form: 7, length: 2, payload: hi}},
		{"RSV1", Frame{Fin: true, RSV: 4, Opcode: OpText, Payload: hi}, srvFrame{fin: true, rsv: 4, op: 1, masked: true, form: 7, length: 2, payload: hi}},
		{"RSV3", Frame{Fin: true, RSV: 1, Opcode: OpText, Payload: hi}, srvFrame{fin: true, rsv: 1, op: 1, masked: true, form: 7, length: 2, payload: hi}},
		{"RSV all, opcode 0xF", Frame{RSV: 7, Opcode: 0xF, Payload: hi}, srvFrame{rsv: 7, op: 0xF, masked: true, form: 7, length: 2, payload: hi}},
		{"fixed key", Frame{Fin: true, Opcode: OpBinary, Payload: []byte("Hello, fixed key!"), Key: key}, srvFrame{fin: true, op: 2, masked: true, form: 7, length: 17, key: *key, payload: []byte("Hello, fixed key!")}},
		{"64-bit length", Frame{Fin: true, Opcode: OpText, Payload: hi, Use64BitLength: true}, srvFrame{fin: true, op: 1, masked: true, form: 64, length: 2, payload: hi}},
		{"16-bit length", Frame{Fin: true, Opcode: OpText, Payload: hi, Use16BitLength: true}, srvFrame{fin: true, op: 1, masked: true, form: 16, length: 2, payload: hi}},
		{"both forced", Frame{Fin: true, Opcode: OpText, Payload: hi, Use16BitLength: true, Use64BitLength: true}, srvFrame{fin: true, op: 1, masked: true, form: 64, length: 2, payload: hi}},
		{"announce 1 MiB, send nothing", Frame{Fin: true, Opcode: OpText, LengthOverride: u(1<<20 + 1)}, srvFrame{fin: true, op: 1, masked: true, form: 64, length: 1<<20 + 1}},
		{"announce 2^63", Frame{Fin: true, Opcode: OpBinary, LengthOverride: u(1 << 63), Unmasked: true}, srvFrame{fin: true, op: 2, form: 64, length: 1 << 63}},
		{"announce less", Frame{Fin: true, Opcode: OpText, Payload: []byte("hello"), LengthOverride: u(3)}, srvFrame{fin: true, op: 1, masked: true, form: 7, length: 3, payload: []byte("hel")}},
		{"announce 126 in 64 bits", Frame{Fin: true, Opcode: OpText, Payload: make([]byte, 126), LengthOverride: u(126), Use64BitLength: true}, srvFrame{fin: true, op: 1, masked: true, form: 64, length: 126, payload: make([]byte, 126)}},
	} {
		c := s.dial(t)
		if err := c.WriteFrame(tc.f); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got := s.next(t)
		if tc.f.Key == nil || tc.f.Unmasked {
			got.key = [4]byte{}
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: the server saw\n%+v, want\n%+v", tc.name, got, tc.want)
		}
		c.Close()
	}
	c := s.dial(t)
	if err := c.WriteFrame(Frame{RSV: 8}); err == nil {
		t.Error("RSV 8 accepted")
	}
	if err := c.WriteFrame(Frame{Opcode: 16}); err == nil {
		t.Error("opcode 16 accepted")
	}
}

func TestAppendFrame(t *testing.T) {
	// RFC 6455 §5.7: a masked "Hello".
	b, err := AppendFrame([]byte{0xAA}, Frame{Fin: true, Opcode: OpText, Payload: []byte("Hello"), Key: &[4]byte{0x37, 0xfa, 0x21, 0x3d}})
	if want := "aa818537fa213d7f9f4d5158"; fmt.Sprintf("%x", b) != want || err != nil {
		t.Fatalf("got %x %v, want %s", b, err, want)
	}
	b, _ = AppendFrame(nil, Frame{Fin: true, Opcode: OpText, Payload: []byte("Hello"), Unmasked: true})
	if want := "810548656c6c6f"; fmt.Sprintf("%x", b) != want {
		t.Fatalf("unmasked: got %x, want %s", b, want)
	}
	if _, err := AppendFrame(nil, Frame{RSV: 9}); err == nil {
		t.Fatal("RSV 9 accepted")
	}
}

func TestMask(t *testing.T) {
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	src := make([]byte, 100)
	for i := range src {
		src[i] = byte(i*31 + 5)
	}
	for pos := range 8 {
		for n := range len(src) + 1 {
			want := make([]byte, n)
			for i := range want {
				want[i] = src[i] ^ key[(pos+i)&3]
			}
			dst := make([]byte, n)
			mask(dst, src[:n], key, pos)
			inPlace := bytes.Clone(src[:n])
			mask(inPlace, inPlace, key, pos)
			if !bytes.Equal(dst, want) || !bytes.Equal(inPlace, want) {
				t.Fatalf("pos %d, %d bytes: %x / %x, want %x", pos, n, dst, inPlace, want)
			}
		}
	}
}

// TestPipelineWhileReading writes pipelined frames from one goroutine while
// another reads and answers the server's pings: the race detector checks
// the write lock.
func TestPipelineWhileReading(t *testing.T) {
	s := newServer(t)
	c := s.dial(t)
	const n, every = 300, 25
	errc := make(chan error, 1)
	go func() {
		for i := range n {
			msg := fmt.Appendf(nil, "m%d", i)
			if i%every == 0 {
				msg = fmt.Appendf(nil, "cmd:ping %d", i)
			}
			if err := c.WriteFrameNoFlush(Frame{Fin: true, Opcode: OpText, Payload: msg}); err != nil {
				errc <- err
				return
			}
		}
		errc <- c.Flush()
	}()
	var buf []byte
	for i := range n {
		want := fmt.Sprintf("m%d", i)
		if i%every == 0 {
			want = "pinged"
		}
		var err error
		if _, buf, err = c.AppendMessage(buf[:0]); err != nil || string(buf) != want {
			t.Fatalf("message %d: %q %v, want %q", i, buf, err, want)
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	for pongs := 0; pongs < n/every; {
		if f := s.next(t); f.op == OpPong {
			pongs++
		}
	}
}

// discardConn is a net.Conn that swallows writes, for allocation checks.
type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error) { return len(p), nil }

// repeatReader repeats b forever.
type repeatReader struct {
	b   []byte
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m := copy(p[n:], r.b[r.off:])
		n += m
		r.off = (r.off + m) % len(r.b)
	}
	return n, nil
}

func TestNoAllocations(t *testing.T) {
	frame := serverFrame(nil, true, OpBinary, make([]byte, 1000))
	c := newConn(discardConn{}, bufio.NewReaderSize(&repeatReader{b: frame}, readBufferSize), nil)
	payload := make([]byte, 1000)
	key := &[4]byte{1, 2, 3, 4}
	for name, f := range map[string]func(){
		"WriteFrameNoFlush":           func() { c.WriteFrameNoFlush(Frame{Fin: true, Opcode: OpBinary, Payload: payload}) },
		"WriteFrameNoFlush fixed key": func() { c.WriteFrameNoFlush(Frame{Fin: true, Opcode: OpBinary, Payload: payload, Key: key}) },
		"WriteFrame":                  func() { c.WriteFrame(Frame{Fin: true, Opcode: OpBinary, Payload: payload}) },
		"ReadFrame":                   func() { c.ReadFrame() },
		"AppendMessage":               func() { _, payload, _ = c.AppendMessage(payload[:0]) },
	} {
		if n := testing.AllocsPerRun(200, f); n != 0 {
			t.Errorf("%s: %v allocations", name, n)
		}
	}
}

func BenchmarkWriteFrameNoFlush(b *testing.B) {
	for _, size := range []int{16, 1024, 100_000} {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			c := newConn(discardConn{}, nil, nil)
			f := Frame{Fin: true, Opcode: OpBinary, Payload: make([]byte, size)}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				c.WriteFrameNoFlush(f)
			}
		})
	}
}

func BenchmarkReadFrame(b *testing.B) {
	frame := serverFrame(nil, true, OpBinary, make([]byte, 1024))
	c := newConn(discardConn{}, bufio.NewReaderSize(&repeatReader{b: frame}, readBufferSize), nil)
	b.SetBytes(1024)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.ReadFrame(); err != nil {
			b.Fatal(err)
		}
	}
}
