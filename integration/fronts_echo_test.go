package integration

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Through each front server, with the configuration dorritctl prints, to
// the echo example: small, multi-byte UTF-8 and near-maximum messages come
// back, with a browser's Origin (dorrit refuses an Origin that is not the
// Host with 403, so the echo shows the Host is forwarded unchanged); and
// connections failed by the server read its close code, 1009, 1003 and
// 1007, ten times each.
func TestFrontsEcho(t *testing.T) {
	for _, f := range fronts {
		t.Run(f.name, func(t *testing.T) {
			socket := filepath.Join(sharedDir(t), "echo.socket")
			startServer(t, "echo", echoBin, socket, nil)
			conf, listen := frontConfig(t, f, "echo", socket)
			f.start(t, conf, listen)
			echoThrough(t, listen)
			closeCodesThrough(t, listen)
		})
	}
}

// dialFront opens a WebSocket to ws://listen/ws with a browser's Origin.
func dialFront(ctx context.Context, listen string) (*websocket.Conn, *http.Response, error) {
	c, resp, err := websocket.Dial(ctx, "ws://"+listen+"/ws", &websocket.DialOptions{
		HTTPHeader: http.Header{"Origin": {"http://" + listen}},
	})
	if err == nil {
		c.SetReadLimit(1 << 20)
	}
	return c, resp, err
}

func echoThrough(t *testing.T, listen string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := dialFront(ctx, listen)
	if err != nil {
		t.Fatalf("handshake through the front: %v (%s)", err, refusal(resp))
	}
	defer c.CloseNow()
	// The echo example runs with the default buffer size, 65540: the
	// largest message is 65535 bytes.
	for _, msg := range []string{"through the front", "ünïcödé ✓ 日本語 🚀", strings.Repeat("é", 65535/2) + "x"} {
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		_, got, err := c.Read(ctx)
		if err != nil || string(got) != msg {
			t.Fatalf("echo of %d bytes: got %d bytes, %v", len(msg), len(got), err)
		}
	}
	// Autobahn's empty-message cases: 1.1.1 and 6.1.1 (an empty message),
	// 6.1.2 (three empty fragments), 6.1.3 (empty, payload, empty).
	for _, fragments := range [][]string{{""}, {"", "", ""}, {"", "middle frame payload", ""}} {
		w, err := c.Writer(ctx, websocket.MessageText)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range fragments[:len(fragments)-1] {
			if _, err := w.Write([]byte(p)); err != nil { // one frame each
				t.Fatal(err)
			}
		}
		if _, err := w.Write([]byte(fragments[len(fragments)-1])); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		want := strings.Join(fragments, "")
		typ, got, err := c.Read(ctx)
		if err != nil || typ != websocket.MessageText || string(got) != want {
			t.Fatalf("echo of %q in %d fragments: %v %q, %v", want, len(fragments), typ, got, err)
		}
	}
	c.Close(websocket.StatusNormalClosure, "")
}

// closeCodesThrough fails connections through the front while the client
// is still sending, ten times each way: the client must read the close
// code every time. Before dorrit lingered after its close frame, the front
// server's write into the closed socket failed and it dropped both sides
// without forwarding the close frame (nginx: 2 to 8 of 10).
func closeCodesThrough(t *testing.T, listen string) {
	t.Helper()
	cases := []struct {
		name string
		typ  websocket.MessageType
		msg  []byte
		want websocket.StatusCode
	}{
		{"over-size", websocket.MessageText, bytes.Repeat([]byte("x"), 70000), websocket.StatusMessageTooBig},
		{"binary", websocket.MessageBinary, bytes.Repeat([]byte("b"), 30000), websocket.StatusUnsupportedData},
		{"bad UTF-8", websocket.MessageText, append(bytes.Repeat([]byte("u"), 30000), 0xff, 0xfe), websocket.StatusInvalidFramePayloadData},
	}
	for _, tc := range cases {
		for i := range 10 {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			c, resp, err := dialFront(ctx, listen)
			if err != nil {
				cancel()
				t.Fatalf("%s %d: handshake: %v (%s)", tc.name, i, err, refusal(resp))
			}
			c.Write(ctx, tc.typ, tc.msg) // may fail once the server has closed: what matters is what the client reads
			_, _, err = c.Read(ctx)
			c.CloseNow()
			cancel()
			if got := websocket.CloseStatus(err); got != tc.want {
				t.Fatalf("%s, try %d of 10: the client read %v (close code %d), want %d", tc.name, i+1, err, got, tc.want)
			}
		}
	}
}
