package lifecycle_test

import (
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	apidaemonOnce sync.Once
	apidaemonBin  string
	apidaemonErr  error
)

// apidaemon builds internal/apidaemon once, beside testserver.
func apidaemon(t *testing.T) string {
	t.Helper()
	apidaemonOnce.Do(func() {
		apidaemonBin = filepath.Join(filepath.Dir(testserver), "apidaemon")
		build := exec.Command("go", "build", "-o", apidaemonBin, "./internal/apidaemon")
		out, err := build.CombinedOutput()
		if err != nil {
			apidaemonErr = err
			apidaemonBin = string(out)
		}
	})
	if apidaemonErr != nil {
		t.Fatalf("building apidaemon: %v\n%s", apidaemonErr, apidaemonBin)
	}
	return apidaemonBin
}

// freeTCP is a loopback address nothing listens on.
func freeTCP(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func getText(url string) (string, error) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b)), err
}

// TestDaemonKeepsItsOwnMain is the daemon of the embedding trial: its own
// main opens its HTTP API, then serves a dorrit endpoint with lifecycle.
// Both must serve, and the API must be opened once.
func TestDaemonKeepsItsOwnMain(t *testing.T) {
	needRoot(t)
	bin := apidaemon(t)
	dir := sharedDir(t)
	sock := filepath.Join(dir, "api.socket")
	addr := freeTCP(t)
	cmd := exec.Command(bin, "-x", "-l", sock)
	p := runServerCmd(t, cmd, []string{"APIDAEMON_API=" + addr, "APIDAEMON_PIDDIR=" + dir})
	waitFor(t, "the dorrit endpoint to answer", func() bool {
		select {
		case <-p.done:
			t.Fatalf("the daemon ended (%v); stderr:\n%s", p.cmd.ProcessState, p.stderr())
		default:
		}
		_, err := whoami(sock)
		return err == nil
	})
	if _, err := getText("http://" + addr + "/whoami"); err != nil {
		t.Fatalf("the daemon's API: %v; stderr:\n%s", err, p.stderr())
	}
	if s := p.stderr(); strings.Contains(s, "address already in use") {
		t.Fatalf("the API was opened twice:\n%s", s)
	}
}
