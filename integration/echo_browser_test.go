package integration

import (
	"path/filepath"
	"testing"
)

// A real browser through nginx to the echo example: nginx runs with the
// configuration `dorritctl config nginx` prints, plus a location / that
// serves a page. The page's script, from the same origin, gets its
// message echoed; the same script served by another origin (a second
// server on another port) is refused: dorrit answers its handshake with
// 403, so the browser never sees the connection open.
func TestBrowserEchoThroughNginx(t *testing.T) {
	ctx := browser(t)
	socket := filepath.Join(sharedDir(t), "echo.socket")
	startServer(t, "echo", echoBin, socket, nil)

	site := "127.0.0.1:" + freePort(t)
	other := "127.0.0.1:" + freePort(t)
	const message = "hello from Chromium, ünïcödé ✓"
	sameRoot := webRoot(t, echoPage(`"ws://" + location.host + "/ws"`, message))
	otherRoot := webRoot(t, echoPage(`"ws://`+site+`/ws"`, message))

	conf := generated(t, "nginx", "echo", "--socket", socket, "--listen", site, "--location", "/ws")
	conf = withLocation(t, conf, "    location / { root "+sameRoot+"; }")
	conf += "\nserver {\n    listen " + other + ";\n    location / { root " + otherRoot + "; }\n}\n"
	front := startNginx(t, conf, site, other)

	t.Run("same origin", func(t *testing.T) {
		r := openPage(t, ctx, "http://"+site+"/")
		saveArtifact(t, "same-origin.png", r.screenshot)
		if r.Status != "echoed" || r.Echo != message {
			t.Fatalf("the page says status %q, echo %q; want echoed, %q", r.Status, r.Echo, message)
		}
		front.waitLog(t, `"GET /ws HTTP/1.1" 101 origin=http://`+site+` host=`+site)
	})
	t.Run("other origin", func(t *testing.T) {
		r := openPage(t, ctx, "http://"+other+"/")
		saveArtifact(t, "other-origin.png", r.screenshot)
		if r.Opened != "no" || r.Echo != "" || r.Status != "closed 1006" {
			t.Fatalf("the page says status %q, opened %q, echo %q; want the connection refused (closed 1006, never opened)", r.Status, r.Opened, r.Echo)
		}
		front.waitLog(t, `"GET /ws HTTP/1.1" 403 origin=http://`+other+` host=`+site)
	})
}
