package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/dorritgo/dorrit/internal/testproc"
)

func TestMain(m *testing.M) { testproc.Main(m) }

// The program itself, run as a user would: lifecycle's flags, the
// periodic stats message, and a graceful stop on SIGTERM.
func TestProgram(t *testing.T) {
	dir := t.TempDir()
	bin := testproc.Build(t, testproc.Program{Pkg: ".", Name: "pubsub"})

	t.Run("bad settings", func(t *testing.T) {
		for _, tc := range []struct {
			env  string
			args []string
			want string
		}{
			{"", []string{"-history", "lots"}, `invalid value "lots" for flag -history: want a number of messages kept per topic`},
			{"", []string{"-broker", "localhost:6379"}, `want redis://host:port`},
			{"", []string{"-stats", "soon"}, `invalid value "soon" for flag -stats: want a duration`},
		} {
			cmd := exec.Command(bin, append([]string{"-x", "-l", filepath.Join(dir, "bad.socket")}, tc.args...)...)
			cmd.Env = os.Environ()
			if tc.env != "" {
				cmd.Env = append(cmd.Env, tc.env)
			}
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), tc.want) {
				t.Errorf("%s %v: got %v: %s, want exit status 2 and %q", tc.env, tc.args, err, out, tc.want)
			}
		}
	})

	sock := filepath.Join(dir, "pubsub.socket")
	// As root, the server process runs as nobody, as in production.
	cmd := exec.Command(bin, "-x", "-l", sock, "-stats", "50ms")
	p := testproc.Start(t, cmd, testproc.Options{Wait: 15 * time.Second})
	p.WaitLine(t, regexp.MustCompile(`msg=accepting`))

	c := dialPath(t, sock)
	c.send(`{"type":"subscribe","topic":"t"}`)
	c.expect("subscribed")
	c.send(`{"type":"publish","topic":"t","data":"hi"}`)
	// The ack, the message and a stats message (every 50 ms), in any order.
	seen := map[string]bool{}
	for len(seen) < 3 {
		e := c.next()
		switch {
		case e.Type == "stats" && (len(e.Subscribers) != 1 || e.Subscribers["t"] != 1):
			t.Fatalf("stats: got %v, want t: 1", e)
		case e.Type == "ack" && e.Offset != 1, e.Type == "message" && string(e.Data) != `"hi"`:
			t.Fatalf("got %v", e)
		case e.Type != "stats" && e.Type != "ack" && e.Type != "message":
			t.Fatalf("got %v, want an ack, a message or stats", e)
		}
		seen[e.Type] = true
	}

	cmd.Process.Signal(syscall.SIGTERM)
	for {
		_, err := c.read(10 * time.Second)
		if err != nil {
			if st := websocket.CloseStatus(err); st != websocket.StatusGoingAway {
				t.Fatalf("on SIGTERM: got %v, want 1001 (going away)", err)
			}
			break
		}
	}
	select {
	case <-p.Done():
		if err := p.Err(); err != nil {
			t.Fatalf("pubsub after SIGTERM: %v\n%s", err, p.Output())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("pubsub still running 15 s after SIGTERM")
	}
}

// Someone typing -h for help is told, on the terminal before anything
// starts, that -h is the manual's humdinger flag and changes nothing, and
// where the help is; the server then starts as with any other command
// line (-x here: in the foreground).
func TestDashH(t *testing.T) {
	bin := testproc.Build(t, testproc.Program{Pkg: ".", Name: "pubsub"})
	sock := filepath.Join(t.TempDir(), "pubsub.socket")
	cmd := exec.Command(bin, "-h", "-x", "-l", sock)
	p := testproc.Start(t, cmd, testproc.Options{Wait: 15 * time.Second})
	p.WaitLine(t, regexp.MustCompile(`^pubsub: -h changes nothing: .*-help lists the flags`))
	p.WaitLine(t, regexp.MustCompile(`msg=accepting`))
	if code := p.Stop(t, syscall.SIGTERM, 15*time.Second); code != 0 {
		t.Fatalf("pubsub -h after SIGTERM: exit status %d\n%s", code, p.Output())
	}
}
