package integration

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/dorritgo/dorrit/internal/testproc"
)

// notifyDaemon is examples/notify started as root, behind nginx: its API
// on a loopback port of its own, its browsers through nginx.
type notifyDaemon struct {
	api, site, pidfile string
	proc               *testproc.Proc
}

// startNotify starts examples/notify (dropping to nobody, its socket in
// nobody's group, which nginx's workers are in) and nginx with the
// configuration dorritctl prints for it.
func startNotify(t *testing.T, env ...string) *notifyDaemon {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CI runs as root): the daemon takes /run-like pidfile and socket as root and drops to nobody")
	}
	dir := sharedDir(t)
	sock := filepath.Join(dir, "notify.socket")
	d := &notifyDaemon{api: "127.0.0.1:" + freePort(t), pidfile: filepath.Join(dir, "notify.pid")}
	cmd := exec.Command(notifyBin, "-l", sock, "-api", d.api, "-pidfile", d.pidfile, "-g", nobodyGroup(t))
	cmd.Env = append(append(os.Environ(), "NOTIFY_SECRET=integration"), env...)
	// The processes upgrades start stay in its process group, which ends
	// with the test.
	d.proc = testproc.Start(t, cmd, testproc.Options{Name: "notify"})
	done := d.proc.Done()
	waitDial(t, "tcp", d.api, done)

	d.site = "127.0.0.1:" + freePort(t)
	conf := generated(t, "nginx", "notify", "--socket", sock, "--listen", d.site, "--location", "/notify")
	startNginx(t, conf, d.site)
	return d
}

// pid is the serving process, as the pidfile says.
func (d *notifyDaemon) pid(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(d.pidfile)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid == 0 {
		t.Fatalf("pidfile %s: %q, %v", d.pidfile, b, err)
	}
	return pid
}

func (d *notifyDaemon) token(t *testing.T, user string) string {
	t.Helper()
	var v struct{ Token string }
	if err := getJSON("http://"+d.api+"/token?user="+url.QueryEscape(user), &v); err != nil {
		t.Fatal(err)
	}
	return v.Token
}

func getJSON(u string, v any) error {
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("GET %s: %s: %s", u, resp.Status, b)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// poster posts notifications on connections of its own, never reused, so
// that a refused or dropped request shows as an error, not as a retry.
var poster = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// post sends POST /notify and returns the notification's ID.
func (d *notifyDaemon) post(user, text string) (int64, error) {
	body, _ := json.Marshal(map[string]string{"user": user, "text": text})
	resp, err := poster.Post("http://"+d.api+"/notify", "application/json", strings.NewReader(string(body)))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var v struct{ ID int64 }
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return 0, fmt.Errorf("POST /notify: %s: %s", resp.Status, b)
	}
	err = json.NewDecoder(resp.Body).Decode(&v)
	return v.ID, err
}

// dial connects a browser of user through nginx, with a browser's Origin;
// since > 0 asks for what it missed after that notification.
func (d *notifyDaemon) dial(ctx context.Context, user, token string, since int64) (*websocket.Conn, *http.Response, error) {
	q := url.Values{"user": {user}, "token": {token}}
	if since > 0 {
		q.Set("since", strconv.FormatInt(since, 10))
	}
	return websocket.Dial(ctx, "ws://"+d.site+"/notify?"+q.Encode(), &websocket.DialOptions{
		HTTPHeader: http.Header{"Origin": {"http://" + d.site}},
	})
}

type received struct {
	ID   int64
	User string
	Text string
}

func readNote(ctx context.Context, c *websocket.Conn) (received, error) {
	var n received
	_, b, err := c.Read(ctx)
	if err != nil {
		return n, err
	}
	err = json.Unmarshal(b, &n)
	return n, err
}

// Identity from Authorize reaches the connection: a notification for
// alice reaches alice's browsers only, one for everyone reaches all, and
// a wrong token is refused before any upgrade.
func TestNotifyIdentityThroughNginx(t *testing.T) {
	d := startNotify(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	alice, _, err := d.dial(ctx, "alice", d.token(t, "alice"), 0)
	if err != nil {
		t.Fatal(err)
	}
	bob, _, err := d.dial(ctx, "bob", d.token(t, "bob"), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct{ user, text string }{{"alice", "for alice"}, {"bob", "for bob"}, {"", "for everyone"}} {
		if _, err := d.post(p.user, p.text); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		conn *websocket.Conn
		want []string
	}{{"alice", alice, []string{"for alice", "for everyone"}}, {"bob", bob, []string{"for bob", "for everyone"}}} {
		for _, want := range c.want {
			n, err := readNote(ctx, c.conn)
			if err != nil || n.Text != want {
				t.Errorf("%s received %+v, %v; want %q", c.name, n, err, want)
			}
		}
	}

	_, resp, err := d.dial(ctx, "mallory", d.token(t, "alice"), 0)
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("a wrong token: %v, %v; want 403", resp, err)
	}
}

// A notification sent right after a browser's Dial returned reaches it:
// the accept loop registers a connection before its 101 leaves.
func TestNotifyRegistrationThroughNginx(t *testing.T) {
	d := startNotify(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const rounds = 200
	missed := 0
	for i := range rounds {
		user := fmt.Sprintf("user%d", i)
		c, _, err := d.dial(ctx, user, d.token(t, user), 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.post(user, "welcome"); err != nil {
			t.Fatal(err)
		}
		rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
		if n, err := readNote(rctx, c); err != nil || n.Text != "welcome" {
			missed++
		}
		rcancel()
		c.CloseNow()
	}
	if missed > 0 {
		t.Errorf("%d of %d browsers missed the notification sent right after they connected", missed, rounds)
	}
}

// SIGTERM: the API stops taking requests, every notification queued for
// a browser that has not read it yet is delivered, then 1001.
func TestNotifySIGTERMDeliversEverything(t *testing.T) {
	sd := systemdNotifications(t)
	d := startNotify(t, "NOTIFY_SOCKET="+sd.path)
	sd.expect(t, "READY=1")
	sd.expect(t, "STATUS=0 browsers, 0 notifications")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const browsers, notes = 4, 180 // under the 200 frames a browser may be behind
	var conns []*websocket.Conn
	for i := range browsers {
		user := fmt.Sprintf("reader%d", i)
		c, _, err := d.dial(ctx, user, d.token(t, user), 0)
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadLimit(1 << 20)
		conns = append(conns, c)
	}
	// Nobody reads while they pile up: long texts, so that the sockets'
	// buffers hold only part of them and the rest waits in dorrit's queues.
	text := strings.Repeat("n", 60<<10) // 10 MB a browser: more than the buffers of the sockets and nginx hold
	var ids []int64
	for i := range notes {
		id, err := d.post("", fmt.Sprintf("%d %s", i, text))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	pid := d.pid(t)
	syscall.Kill(pid, syscall.SIGTERM)
	sd.expect(t, "STOPPING=1")
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			got := 0
			for {
				n, err := readNote(ctx, c)
				if err != nil {
					if got != notes || websocket.CloseStatus(err) != websocket.StatusGoingAway {
						t.Errorf("browser %d: %d of %d notifications, then %v; want all, then 1001", i, got, notes, err)
					}
					return
				}
				if n.ID != ids[got] {
					t.Errorf("browser %d: notification %d is %d; want %d", i, got, n.ID, ids[got])
					return
				}
				got++
			}
		})
	}
	wg.Wait()
	waitGone(t, pid)
	if !strings.Contains(d.proc.Output(), "stopped") {
		t.Errorf("the daemon did not report a clean stop:\n%s", d.proc.Output())
	}
}

// A browser that falls 200 notifications behind is dropped with 1008,
// without holding up the others; reconnecting with ?since= it catches up
// from the history.
func TestNotifySlowBrowserDropped(t *testing.T) {
	d := startNotify(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fast, _, err := d.dial(ctx, "fast", d.token(t, "fast"), 0)
	if err != nil {
		t.Fatal(err)
	}
	slowToken := d.token(t, "slow")
	slow, _, err := d.dial(ctx, "slow", slowToken, 0)
	if err != nil {
		t.Fatal(err)
	}
	fast.SetReadLimit(1 << 20)
	slow.SetReadLimit(1 << 20)
	const notes = 1000 // within the history of 1024
	fastGot := make(chan int)
	go func() {
		got := 0
		for got < notes {
			if _, err := readNote(ctx, fast); err != nil {
				break
			}
			got++
		}
		fastGot <- got
	}()
	text := strings.Repeat("s", 16<<10) // 16 MB: more than the buffers of the sockets and nginx hold
	var ids []int64
	for i := range notes {
		id, err := d.post("", fmt.Sprintf("%d %s", i, text))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if got := <-fastGot; got != notes {
		t.Errorf("the fast browser got %d of %d", got, notes)
	}

	// The slow browser reads at last: what was queued, then 1008 — or,
	// when it starts reading only after the drop's 2 s linger (the posts
	// can take that long on a loaded machine), an end without the close
	// frame, which its full buffers could not take in. Either way /stats
	// below says it was dropped as too slow.
	var last int64
	for {
		n, err := readNote(ctx, slow)
		if err != nil {
			code := websocket.CloseStatus(err)
			if code != websocket.StatusPolicyViolation && code != -1 {
				t.Fatalf("the slow browser's connection ended with %v; want 1008, or an end without a close frame", err)
			}
			t.Logf("the slow browser's connection ended with %v", err)
			break
		}
		last = n.ID
	}
	if last == ids[notes-1] {
		t.Fatalf("the slow browser got every notification: it was never behind")
	}
	var st struct {
		Hub struct {
			DroppedSlow int `json:"dropped_slow"`
		}
	}
	if err := getJSON("http://"+d.api+"/stats", &st); err != nil || st.Hub.DroppedSlow != 1 {
		t.Errorf("/stats: %+v, %v; want dropped_slow 1", st, err)
	}
	slow, _, err = d.dial(ctx, "slow", slowToken, last)
	if err != nil {
		t.Fatal(err)
	}
	slow.SetReadLimit(1 << 20)
	// A queue's worth at a time: each ends with 1013, and the browser
	// comes back for more.
	reconnects := 0
	for last != ids[notes-1] {
		n, err := readNote(ctx, slow)
		if websocket.CloseStatus(err) == 1013 {
			reconnects++
			if slow, _, err = d.dial(ctx, "slow", slowToken, last); err != nil {
				t.Fatal(err)
			}
			slow.SetReadLimit(1 << 20)
			continue
		}
		if err != nil {
			t.Fatalf("catching up after %d: %v", last, err)
		}
		if n.ID <= last {
			t.Fatalf("catching up: %d after %d", n.ID, last)
		}
		last = n.ID
	}
	t.Logf("caught up with %d reconnections", reconnects)
}

// waitGone waits until process pid has ended.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); strings.Contains(string(b), ") Z ") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d still running after 20 s", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// follower is a browser that reads notifications and, when its
// connection closes, reconnects with ?since= the last one it got.
type follower struct {
	user       string
	mu         sync.Mutex
	ids        []int64
	reconnects int
	err        error
}

func (f *follower) run(ctx context.Context, d *notifyDaemon, token string, c *websocket.Conn) {
	for {
		n, err := readNote(ctx, c)
		if err == nil {
			f.mu.Lock()
			f.ids = append(f.ids, n.ID)
			f.mu.Unlock()
			continue
		}
		if ctx.Err() != nil {
			return
		}
		if code := websocket.CloseStatus(err); code != websocket.StatusGoingAway && code != 1013 {
			f.fail(fmt.Errorf("connection ended with %v; want 1001 from a draining process", err))
			return
		}
		f.mu.Lock()
		since := int64(0)
		if len(f.ids) > 0 {
			since = f.ids[len(f.ids)-1]
		}
		f.reconnects++
		f.mu.Unlock()
		for {
			c, _, err = d.dial(ctx, f.user, token, since)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			f.fail(fmt.Errorf("reconnect: %w", err))
			return
		}
	}
}

func (f *follower) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = err
	}
}

func (f *follower) got() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int64(nil), f.ids...)
}

// SIGHUP under a steady stream of POST /notify: the new binary takes the
// API's port and the dorrit socket over, the API refuses no request, and
// every browser, moved to the new process by 1001 and its reconnection,
// receives every notification meant for it once and in order. Twice.
func TestNotifyUpgradeLosesNothing(t *testing.T) {
	sd := systemdNotifications(t)
	d := startNotify(t, "NOTIFY_SOCKET="+sd.path)
	sd.expect(t, "READY=1")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const browsers = 6
	var followers []*follower
	for i := range browsers {
		f := &follower{user: fmt.Sprintf("follower%d", i%3)} // two browsers a user
		token := d.token(t, f.user)
		c, _, err := d.dial(ctx, f.user, token, 0)
		if err != nil {
			t.Fatal(err)
		}
		followers = append(followers, f)
		go f.run(ctx, d, token, c)
	}

	// Four posters at once, each on fresh connections.
	var mu sync.Mutex
	var sent []received // every notification the API accepted
	var postErrs []error
	var slowest time.Duration // the longest POST: the hand-over's wait in the backlog
	stop := make(chan struct{})
	var posters sync.WaitGroup
	for p := range 4 {
		posters.Go(func() {
			for i := p; ; i += 4 {
				select {
				case <-stop:
					return
				default:
				}
				user := ""
				if i%2 == 1 {
					user = fmt.Sprintf("follower%d", i%3)
				}
				start := time.Now()
				id, err := d.post(user, strconv.Itoa(i))
				took := time.Since(start)
				mu.Lock()
				slowest = max(slowest, took)
				if err != nil {
					postErrs = append(postErrs, err)
				} else {
					sent = append(sent, received{ID: id, User: user})
				}
				mu.Unlock()
			}
		})
	}
	countSent := func() int { mu.Lock(); defer mu.Unlock(); return len(sent) }

	pid := d.pid(t)
	for round := range 2 {
		before := countSent()
		waitUntil(t, "notifications flowing", func() bool { return countSent() > before+50 })
		syscall.Kill(pid, syscall.SIGHUP)
		waitUntil(t, "the new process in the pidfile", func() bool {
			b, _ := os.ReadFile(d.pidfile)
			p, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			return p != 0 && p != pid
		})
		waitGone(t, pid)
		next := d.pid(t)
		sd.expect(t, "RELOADING=1\nMONOTONIC_USEC=")
		sd.expect(t, fmt.Sprintf("MAINPID=%d\nREADY=1", next))
		t.Logf("round %d: %d → %d after %d notifications", round, pid, next, countSent())
		pid = next
	}
	before := countSent()
	waitUntil(t, "notifications flowing after the upgrades", func() bool { return countSent() > before+50 })
	close(stop)
	posters.Wait()

	mu.Lock()
	defer mu.Unlock()
	// IDs grow across the processes: the order a browser must see.
	slices.SortFunc(sent, func(a, b received) int { return cmp.Compare(a.ID, b.ID) })
	t.Logf("%d notifications posted, the slowest POST took %v", len(sent), slowest)
	if len(postErrs) > 0 {
		t.Errorf("the API failed %d of %d requests during the upgrades; first: %v", len(postErrs), len(postErrs)+len(sent), postErrs[0])
	}
	for i, f := range followers {
		var want []int64
		for _, n := range sent {
			if n.User == "" || n.User == f.user {
				want = append(want, n.ID)
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for len(f.got()) < len(want) && f.err == nil && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		got := f.got()
		if f.err != nil {
			t.Errorf("browser %d: %v", i, f.err)
		}
		if !slicesEqual(got, want) {
			t.Errorf("browser %d (%s): received %d notifications, want %d; first difference at %d", i, f.user, len(got), len(want), firstDiff(got, want))
		}
		t.Logf("browser %d: %d notifications, %d reconnections", i, len(got), f.reconnects)
	}
}

func slicesEqual(a, b []int64) bool { return firstDiff(a, b) < 0 }

func firstDiff(a, b []int64) int {
	for i := range max(len(a), len(b)) {
		if i >= len(a) || i >= len(b) || a[i] != b[i] {
			return i
		}
	}
	return -1
}

// sdNotifications is a NOTIFY_SOCKET, as systemd listens on it, that the
// daemon's account may write to.
type sdNotifications struct {
	path string
	got  chan string
}

func systemdNotifications(t *testing.T) *sdNotifications {
	t.Helper()
	path := filepath.Join(sharedDir(t), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o666)
	t.Cleanup(func() { c.Close() })
	sd := &sdNotifications{path: path, got: make(chan string, 1000)}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			sd.got <- string(buf[:n])
		}
	}()
	return sd
}

// expect waits for a notification that begins with want.
func (sd *sdNotifications) expect(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	var seen []string
	for {
		select {
		case d := <-sd.got:
			if strings.HasPrefix(d, want) {
				return
			}
			seen = append(seen, d)
		case <-timeout:
			t.Fatalf("systemd was not told %q within 10 s; it was told %q", want, seen)
		}
	}
}
