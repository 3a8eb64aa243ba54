package integration

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// The front servers close an upgraded connection that carried no byte
// for a while (nginx: proxy_read_timeout, HAProxy: timeout tunnel,
// Apache: ProxyTimeout; 60 s by default, an hour in HAProxy's generated
// file). dorrit's keepalive pings keep an idle client past that: here the
// front server's timeout is 2 s, the echo example pings after 500 ms of
// silence (-ping 500ms), and a client that sends nothing for 6 s still
// gets its echo. Without keepalive (-ping 0) the same front server cuts
// the same idle client after its 2 s, which shows the timeout is in
// force. Caddy sets no timeout on an upgraded connection: there the idle
// client stays either way.
func TestFrontsKeepalive(t *testing.T) {
	const (
		frontTimeout = 2 * time.Second
		idle         = 3 * frontTimeout
	)
	for _, f := range fronts {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range []struct {
				name string
				ping string
				cut  bool // the front server cuts the idle client
			}{
				{"pinged", "500ms", false},
				{"no keepalive", "0", f.idleTimeout != nil},
			} {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					socket := filepath.Join(sharedDir(t), "echo.socket")
					startServer(t, "echo", echoBin, socket, []string{"-ping", tc.ping})
					conf, listen := frontConfig(t, f, "echo", socket)
					if f.idleTimeout != nil {
						conf = f.idleTimeout(t, conf, frontTimeout)
					}
					f.start(t, conf, listen)
					idleThrough(t, listen, idle, frontTimeout, tc.cut)
				})
			}
		})
	}
}

// idleThrough opens a WebSocket through the front server, reads without
// sending anything for idle (coder/websocket answers pings only while a
// Read waits), and then expects its message echoed, or, when cut, the
// connection closed after frontTimeout or more, within idle.
func idleThrough(t *testing.T, listen string, idle, frontTimeout time.Duration, cut bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), idle+10*time.Second)
	defer cancel()
	c, resp, err := dialFront(ctx, listen)
	if err != nil {
		t.Fatalf("handshake: %v (%s)", err, refusal(resp))
	}
	defer c.CloseNow()
	type read struct {
		msg []byte
		err error
	}
	reads := make(chan read, 1)
	start := time.Now()
	go func() {
		_, msg, err := c.Read(ctx)
		reads <- read{msg, err}
	}()
	select {
	case r := <-reads:
		after := time.Since(start).Round(10 * time.Millisecond)
		switch {
		case !cut:
			t.Fatalf("the idle connection ended after %v: %q, %v; want it open for %v", after, r.msg, r.err, idle)
		case after < frontTimeout-frontTimeout/10:
			t.Fatalf("the idle connection ended after %v, before the front server's %v: %q, %v", after, frontTimeout, r.msg, r.err)
		}
		t.Logf("without keepalive, the front server cut the idle connection after %v; the client read: %v (close code %d)",
			after, r.err, websocket.CloseStatus(r.err))
		return
	case <-time.After(idle):
	}
	if cut {
		t.Fatalf("the connection is still open after %v idle: the front server's %v timeout is not in force", idle, frontTimeout)
	}
	if err := c.Write(ctx, websocket.MessageText, []byte("after a long silence")); err != nil {
		t.Fatalf("after %v idle: %v", idle, err)
	}
	if r := <-reads; r.err != nil || string(r.msg) != "after a long silence" {
		t.Fatalf("after %v idle: echo %q, %v", idle, r.msg, r.err)
	}
}
