package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/dorritgo/dorrit/internal/procgroup"
)

const (
	modulePath  = "github.com/dorritgo/dorrit"
	echoPackage = modulePath + "/examples/echo"

	// readyWait bounds the server's start; stopWait its graceful stop
	// (lifecycle drains for at most 10 s).
	readyWait = 60 * time.Second
	stopWait  = 20 * time.Second
)

// buildEcho builds the echo example into dir: from the module at hand
// (a checkout of dorrit, or a module that requires it), or else, for a
// dorritctl installed from a released version, that version's.
func buildEcho(ctx context.Context, dir string) (string, error) {
	if _, err := exec.LookPath("go"); err != nil {
		return "", errors.New("no server given, and no go command to build the echo example: install Go, or give your server: dorritctl dev -- ./yourserver")
	}
	exe := filepath.Join(dir, "echo")
	out, err := exec.CommandContext(ctx, "go", "build", "-o", exe, echoPackage).CombinedOutput()
	if err == nil {
		return exe, nil
	}
	why := firstLine(out, err)
	if v := releasedVersion(); v != "" {
		install := exec.CommandContext(ctx, "go", "install", echoPackage+"@"+v)
		install.Env = append(os.Environ(), "GOBIN="+dir)
		out, err := install.CombinedOutput()
		if err == nil {
			return exe, nil
		}
		why = firstLine(out, err)
	}
	return "", fmt.Errorf("no server given, and the echo example cannot be built here (%s): run dorritctl dev inside a checkout of %s or of a module that requires it, or give your server: dorritctl dev -- ./yourserver", why, modulePath)
}

// releasedVersion is the version of dorrit this dorritctl was installed
// from (go install …@v1.2.3), or "" for a build from a checkout.
func releasedVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Main.Path != modulePath || bi.Main.Version == "" || bi.Main.Version == "(devel)" {
		return ""
	}
	return bi.Main.Version
}

func firstLine(out []byte, err error) string {
	if line, _, _ := bytes.Cut(bytes.TrimSpace(out), []byte("\n")); len(line) > 0 {
		return string(line)
	}
	return err.Error()
}

// devServer is the server process dev runs.
type devServer struct {
	group    *procgroup.Group
	cmd      *exec.Cmd
	socket   string
	done     <-chan struct{} // closed when it has exited
	stopOnce sync.Once
	stopErr  error
	stopped  bool // we sent SIGTERM
}

// startServer runs command with -x -l socket appended, in a process group
// of its own so that only dev signals it (Ctrl-C in the terminal reaches
// dev alone, which stops the server gracefully), and which dies with dev
// when dev itself is killed.
func startServer(command []string, socket string, s *streams) (*devServer, error) {
	args := append(append([]string(nil), command[1:]...), "-x", "-l", socket)
	cmd := exec.Command(command[0], args...)
	cmd.Stdout, cmd.Stderr = s.stderr, s.stderr
	g, err := procgroup.Start(cmd)
	if err != nil {
		return nil, fmt.Errorf("cannot start the server: %v", err)
	}
	return &devServer{group: g, cmd: cmd, socket: socket, done: g.Done()}, nil
}

// waitReady waits until the server accepts connections on its socket.
func (d *devServer) waitReady(ctx context.Context) error {
	deadline := time.NewTimer(readyWait)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if c, err := net.DialTimeout("unix", d.socket, time.Second); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-d.done:
			return fmt.Errorf("the server exited before it accepted connections (%s); its messages are above", d.exitText())
		case <-ctx.Done():
			return errors.New("interrupted while the server started")
		case <-deadline.C:
			return fmt.Errorf("the server does not accept connections on %s after %v: does it take -x -l SOCKET, as a server built with package lifecycle does?", d.socket, readyWait)
		case <-tick.C:
		}
	}
}

// stop ends the server gracefully with SIGTERM, and kills its process
// group if it has not exited within stopWait.
func (d *devServer) stop() error {
	d.stopOnce.Do(func() {
		select {
		case <-d.done:
			return
		default:
		}
		d.stopped = true
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
			if !d.exitedCleanly() {
				d.stopErr = fmt.Errorf("the server ended with %s after SIGTERM", d.exitText())
			}
		case <-time.After(stopWait):
			d.group.Kill()
			d.stopErr = fmt.Errorf("the server did not stop within %v of SIGTERM: killed", stopWait)
		}
	})
	return d.stopErr
}

// exitedCleanly: status 0, or the SIGTERM we sent to a server that does
// not catch it. Once done.
func (d *devServer) exitedCleanly() bool {
	waitErr := d.group.Err()
	if waitErr == nil {
		return true
	}
	var ee *exec.ExitError
	if errors.As(waitErr, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && d.stopped && ws.Signaled() && ws.Signal() == syscall.SIGTERM {
			return true
		}
	}
	return false
}

// exitText says how the server ended; once done.
func (d *devServer) exitText() string {
	if err := d.group.Err(); err != nil {
		return err.Error()
	}
	return "exit status 0"
}
