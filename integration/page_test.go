package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// echoPage is a page whose script opens a WebSocket to target (a
// JavaScript expression), sends message, and writes into the page what
// happens: #status is "echoed" or "closed CODE", #echo the message that
// came back, #opened whether the connection ever opened; body's
// data-done is set once there is nothing more to wait for.
func echoPage(target, message string) string {
	return fmt.Sprintf(`<!doctype html>
<html><head><meta charset="utf-8"><title>dorrit echo</title></head>
<body>
<h1>dorrit echo through nginx</h1>
<p>status: <span id="status">connecting</span></p>
<p>opened: <span id="opened">no</span></p>
<p>echo: <span id="echo"></span></p>
<script>
const status = document.getElementById("status");
const done = (s) => { status.textContent = s; document.body.dataset.done = "yes"; };
const ws = new WebSocket(%s);
ws.onopen = () => { document.getElementById("opened").textContent = "yes"; ws.send(%q); };
ws.onmessage = (e) => { document.getElementById("echo").textContent = e.data; done("echoed"); ws.close(1000); };
ws.onclose = (e) => { if (!document.body.dataset.done) done("closed " + e.code); };
</script>
</body></html>
`, target, message)
}

// webRoot is a directory nginx's workers can read, holding index.html.
func webRoot(t *testing.T, page string) string {
	t.Helper()
	dir := sharedDir(t)
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
