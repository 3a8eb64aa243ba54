//go:build cgo && (linux || freebsd)

package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/dorritgo/dorrit/internal/wstest"
)

// The manual's promises to a C server, checked with testdata/rules.c,
// which aborts when a callback breaks one (see its comment).

// startRules starts rules.c and, when the test ends, checks that it never
// aborted or crashed.
func startRules(t *testing.T, args ...string) *proc {
	t.Helper()
	p := start(t, rules(t), args...)
	t.Cleanup(func() { p.noCrash(t) })
	return p
}

var crashed = regexp.MustCompile(`rules: .*(not open|not zero|another thread)|server crashed|SIGSEGV|panic:`)

func (p *proc) noCrash(t *testing.T) {
	t.Helper()
	if m := p.find(crashed); m != nil {
		t.Errorf("the server broke a promise or crashed: %q", m[0])
	}
}

// message reads the next text message, skipping nothing.
func message(t *testing.T, c *wstest.Conn) string {
	t.Helper()
	op, msg, err := c.ReadMessage()
	if err != nil || op != wstest.OpText {
		t.Fatalf("read: op %d, %v", op, err)
	}
	return string(msg)
}

func send(t *testing.T, c *wstest.Conn, msg string) {
	t.Helper()
	if err := c.WriteText([]byte(msg)); err != nil {
		t.Fatal(err)
	}
}

// counts asks a fresh connection for the server's open and close callback
// counts, until want says they are what it waits for (the close callback
// of a connection that just ended may still be on its way).
func counts(t *testing.T, p *proc, want func(opens, closes int) bool) (opens, closes int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := p.raw(t)
		send(t, c, "count")
		var inits int
		if _, err := fmt.Sscanf(message(t, c), "opens=%d closes=%d inits=%d", &opens, &closes, &inits); err != nil {
			t.Fatal(err)
		}
		c.Close()
		if want(opens, closes) {
			return opens, closes
		}
		if time.Now().After(deadline) {
			t.Fatalf("callback counts stuck at opens=%d closes=%d", opens, closes)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestInitRunsBeforeTheSocketAsTheStartingUser(t *testing.T) {
	p := startRules(t, "-h", "-f", "/etc/rules.conf") // -h: accepted, changes nothing
	p.waitCount(t, regexp.MustCompile(`^rules: init `), 2)
	// ws_set_name named the server: its log and its default socket.
	if p.find(regexp.MustCompile(`msg=accepting server=rules `)) == nil {
		t.Fatalf("no accepting line for server=rules: ws_set_name did not name the server")
	}
	// The command line is parsed twice before the start (alone, then
	// after ws_init_func): the note on -h comes once all the same.
	if n := strings.Count(p.stderr(), "-h changes nothing"); n != 1 {
		t.Errorf("the note on -h said %d times, want once", n)
	}
	lines := strings.Split(p.stderr(), "\n")
	first := -1
	accepting := -1
	var uids []string
	initLine := regexp.MustCompile(`^rules: init uid=(\d+) config=(.*)$`)
	for i, l := range lines {
		if m := initLine.FindStringSubmatch(l); m != nil {
			if m[2] != "/etc/rules.conf" {
				t.Errorf("ws_config_file in ws_init_func: %q; want the -f argument", m[2])
			}
			if first < 0 {
				first = i
			}
			uids = append(uids, m[1])
		}
		if accepting < 0 && strings.Contains(l, "msg=accepting") {
			accepting = i
		}
	}
	if first < 0 || first > accepting {
		t.Fatalf("ws_init_func ran at line %d, accepting at %d; want init first:\n%s", first, accepting, p.stderr())
	}
	// Once where the manual says, as the starting user; once more in the
	// server process, for the globals the callbacks use there.
	want := []string{fmt.Sprint(os.Getuid()), fmt.Sprint(os.Getuid())}
	if os.Geteuid() == 0 {
		want[1] = "65534" // -u nobody, the default
	}
	if strings.Join(uids, " ") != strings.Join(want, " ") {
		t.Fatalf("ws_init_func ran as uids %v; want %v (the starting user, then the server's)", uids, want)
	}
}

func TestOpenCallbackSeesTheRequestAndSpeaksFirst(t *testing.T) {
	p := startRules(t)
	c, _, err := wstest.Dial(p.sock, &wstest.DialOptions{
		Host:   "chat.example.org",
		Header: http.Header{"Cookie": {"session=42; first=1"}, "Sec-Websocket-Protocol": {"superchat, chat"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if got, want := message(t, c), "hello cookie=session=42; first=1 host=chat.example.org protocol=chat"; got != want {
		t.Fatalf("first message %q; want %q", got, want)
	}
	send(t, c, "then echo")
	if got := message(t, c); got != "then echo" {
		t.Fatalf("got %q", got)
	}
}

func TestOpenCallbackRefuses(t *testing.T) {
	p := startRules(t)
	// The open callback runs before the 101 leaves: a refused client's
	// upgrade fails, nothing was ever upgraded.
	if c, _, err := p.dialErr(&websocket.DialOptions{Subprotocols: []string{"refuse"}}); err == nil {
		c.CloseNow()
		t.Fatal("a refused connection was upgraded; want its handshake to fail")
	}
	// A refused connection was never open: no close callback for it.
	if opens, closes := counts(t, p, func(o, c int) bool { return true }); opens != 0 || closes != 0 {
		t.Fatalf("after a refusal: opens=%d closes=%d; want 0 0", opens, closes)
	}
}

func TestPeriodicFunction(t *testing.T) {
	p := startRules(t)
	c := p.raw(t)
	send(t, c, "ticks")
	if got := message(t, c); got != "subscribed" {
		t.Fatalf("got %q", got)
	}
	var ticks []int
	var at []time.Time
	for range 3 {
		var n int
		if _, err := fmt.Sscanf(message(t, c), "tick %d", &n); err != nil {
			t.Fatal(err)
		}
		ticks, at = append(ticks, n), append(at, time.Now())
	}
	// ws_set_periodic(tick, 1): a call every second. Two intervals, so
	// that a tick delayed by a busy machine does not make it look early.
	if span := at[2].Sub(at[0]); ticks[1] != ticks[0]+1 || ticks[2] != ticks[1]+1 || span < time.Second {
		t.Fatalf("ticks %v within %v; want consecutive ticks a second apart", ticks, span)
	}
}

func TestWriteConnReturnCodes(t *testing.T) {
	p := startRules(t)
	a := p.raw(t)
	send(t, a, "fill") // a reads nothing until the fill is over
	// Another connection waits for the fill's report.
	var empty, negative, invalid, queued, full int
	b := p.raw(t)
	for deadline := time.Now().Add(10 * time.Second); ; {
		send(t, b, "report")
		if _, err := fmt.Sscanf(message(t, b), "empty=%d negative=%d invalid=%d queued=%d full=%d", &empty, &negative, &invalid, &queued, &full); err != nil {
			t.Fatal(err)
		}
		if queued > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no fill within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if empty != -2 || negative != -2 || invalid != -3 {
		t.Errorf("ws_write_conn with len 0: %d, len -5: %d, invalid UTF-8: %d; want -2, -2 and -3", empty, negative, invalid)
	}
	// 200 frames wait in the queue, a few more already left for the
	// socket's buffer, then -1.
	if full != -1 || queued < 200 || queued >= 1000 {
		t.Fatalf("ws_write_conn returned 0 %d times, then %d; want at least 200 times, then -1", queued, full)
	}
	// Everything queued arrives, in order, and the connection goes on.
	want := bytes.Repeat([]byte("f"), 60000)
	for i := range queued {
		if _, msg, err := a.ReadMessage(); err != nil || !bytes.Equal(msg, want) {
			t.Fatalf("queued message %d of %d: %d bytes, %v", i+1, queued, len(msg), err)
		}
	}
	send(t, a, "after the fill")
	if got := message(t, a); got != "after the fill" {
		t.Fatalf("got %q", got)
	}
}

func TestCloseConnGraceful(t *testing.T) {
	p := startRules(t)
	c := p.raw(t)
	// Messages arrive right behind "bye", in the same read: after
	// ws_close_conn(conn, 0) none reaches the read callback (which would
	// echo it).
	c.WriteFrameNoFlush(wstest.Frame{Fin: true, Opcode: wstest.OpText, Payload: []byte("bye")})
	for range 100 {
		c.WriteFrameNoFlush(wstest.Frame{Fin: true, Opcode: wstest.OpText, Payload: []byte("after")})
	}
	c.Flush()
	for _, want := range []string{"one", "two"} {
		if got := message(t, c); got != want {
			t.Fatalf("got %q; want %q, queued before ws_close_conn", got, want)
		}
	}
	// The next frame is the close frame: no echo of "after" before it.
	c.SetDeadline(time.Now().Add(10 * time.Second))
	f, err := c.ReadFrame()
	if err != nil || f.Opcode != wstest.OpClose || !bytes.HasPrefix(f.Payload, []byte{0x03, 0xe8}) {
		t.Fatalf("after the queue: opcode %d %q, %v; want the close frame with 1000 (and no echo of \"after\")", f.Opcode, f.Payload, err)
	}
	c.WriteClose(1000, "")
	if opens, closes := counts(t, p, func(o, c int) bool { return c == 1 }); opens != 1 {
		t.Fatalf("opens=%d closes=%d; want 1 1: one close callback", opens, closes)
	}
}

func TestCloseConnForced(t *testing.T) {
	p := startRules(t)
	c := p.raw(t)
	send(t, c, "kill") // 100 messages of 60000 bytes, then ws_close_conn(conn, 1)
	// Read only once the connection is over: a client that reads as fast as
	// the server writes could take all 100 before the close.
	if opens, closes := counts(t, p, func(o, c int) bool { return c == 1 }); opens != 1 {
		t.Fatalf("opens=%d closes=%d; want 1 1: one close callback", opens, closes)
	}
	n := 0
	for {
		f, err := c.ReadFrame()
		if err != nil {
			break // the end of the socket, without a close frame
		}
		if f.Opcode == wstest.OpClose {
			t.Fatalf("close frame %q after %d messages; want the socket closed at once", f.Payload, n)
		}
		if f.Fin {
			n++
		}
	}
	if n >= 100 {
		t.Fatalf("all %d queued messages arrived; want the queue dropped", n)
	}
}

func TestCloseCallbackOnceForEachConnection(t *testing.T) {
	p := startRules(t)
	// Closed every way there is: by the client, by a protocol error, by
	// the client's disappearance, then the rest by SIGTERM.
	for range 5 {
		c := p.raw(t)
		send(t, c, "x")
		message(t, c)
		c.WriteClose(1000, "")
		c.ExpectClose(5 * time.Second)
	}
	for range 5 {
		c := p.raw(t)
		c.WriteBinary([]byte("x"))
		c.ExpectClose(5 * time.Second)
	}
	for range 5 {
		c := p.raw(t)
		send(t, c, "x")
		message(t, c)
		c.Close()
	}
	counts(t, p, func(o, c int) bool { return o == 15 && c == 15 })
	for range 5 { // left open: SIGTERM closes them
		c := p.raw(t)
		send(t, c, "x")
		message(t, c)
	}
	if status := p.stop(t); status != 0 {
		t.Fatalf("exit status %d after SIGTERM", status)
	}
	// The server process's last words: every close callback ran, once.
	if p.find(regexp.MustCompile(`rules: closed opens=(\d+) closes=\d+$`)) == nil {
		t.Fatal("no close callback logged")
	}
	lines := regexp.MustCompile(`rules: closed opens=(\d+) closes=(\d+)`).FindAllStringSubmatch(p.stderr(), -1)
	last := lines[len(lines)-1]
	if last[1] != last[2] || last[1] != "20" { // 15, then 5 open at SIGTERM
		t.Fatalf("at exit: opens=%s closes=%s; want 20 20", last[1], last[2])
	}
}

func TestMissingCallbackIsNamed(t *testing.T) {
	bin := libdorrit(t, raceEnabled).cc(t, "testdata/missing.c", "missing")
	out, err := exec.Command(bin, "-x", "-l", t.TempDir()+"/s.sock").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "does not define ws_close_callback") {
		t.Fatalf("a server without ws_close_callback: %v, %q; want exit status 1 naming it", err, out)
	}
}

func TestUsageErrorBeforeInit(t *testing.T) {
	out, err := exec.Command(rules(t), "-x", "-b", "5").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("-b 5: %v; want exit status 2\n%s", err, out)
	}
	if strings.Contains(string(out), "rules: init") {
		t.Fatalf("ws_init_func ran before the usage error:\n%s", out)
	}
}

func TestCrashInACallbackRestartsTheServer(t *testing.T) {
	p := start(t, rules(t))
	c := p.raw(t)
	send(t, c, "segv") // a NULL pointer written in ws_read_callback
	if _, _, eof, err := c.ExpectClose(10 * time.Second); err != nil || !eof {
		t.Fatalf("connection of the crashed server: eof %v, %v", eof, err)
	}
	p.waitLine(t, regexp.MustCompile(`server crashed; restarting`))
	// The same socket, a new server process, ws_init_func run again there.
	c2, _, err := wstest.Dial(p.sock, &wstest.DialOptions{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.SetDeadline(time.Now().Add(10 * time.Second))
	send(t, c2, "count")
	if got := message(t, c2); got != "opens=0 closes=0 inits=1" {
		t.Fatalf("after the restart: %q; want a fresh server process", got)
	}
}

func TestUpgradeOnSIGHUP(t *testing.T) {
	p := startRules(t)
	p.waitCount(t, regexp.MustCompile(`^rules: init `), 2)
	old := p.raw(t)
	send(t, old, "before")
	message(t, old)
	p.cmd.Process.Signal(syscall.SIGHUP)
	// A new server process, with ws_init_func run there too, takes the
	// socket; the old one drains its connection with 1001 and runs its
	// close callback.
	p.waitCount(t, regexp.MustCompile(`^rules: init `), 3)
	if code, _, _, err := old.ExpectClose(15 * time.Second); err != nil || code != 1001 {
		t.Fatalf("the old server's connection: close %d, %v; want 1001", code, err)
	}
	p.waitLine(t, regexp.MustCompile(`rules: closed opens=1 closes=1$`))
	c := p.raw(t)
	send(t, c, "after")
	if got := message(t, c); got != "after" {
		t.Fatalf("got %q", got)
	}
}

func TestWriteConnFragmentsPastTheBufferSize(t *testing.T) {
	p := startRules(t, "-b", "100")
	c := p.raw(t)
	send(t, c, "big") // one message of 1000 bytes
	frames, err := c.ReadFragments()
	if err != nil {
		t.Fatal(err)
	}
	var msg []byte
	for i, f := range frames {
		if len(f.Payload) > 95 {
			t.Fatalf("fragment %d of %d: %d bytes; want at most -b less 5 (95)", i+1, len(frames), len(f.Payload))
		}
		msg = append(msg, f.Payload...)
	}
	if len(frames) != 11 || string(msg) != strings.Repeat("b", 1000) {
		t.Fatalf("%d fragments making %d bytes; want 11 making the 1000 written", len(frames), len(msg))
	}
}
