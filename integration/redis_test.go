package integration

import (
	"net"
	"os/exec"
	"syscall"
	"testing"
)

// redisServer is a redis-server the test started on a loopback port,
// without persistence: a restart loses everything.
type redisServer struct {
	bin, port string
	cmd       *exec.Cmd
	done      <-chan struct{}
}

// startRedis runs redis-server on a free loopback port until the test
// ends, and returns its address.
func startRedis(t *testing.T) string {
	t.Helper()
	return runRedis(t).addr()
}

// runRedis runs redis-server on a free loopback port until the test ends.
func runRedis(t *testing.T) *redisServer {
	t.Helper()
	r := &redisServer{bin: tool(t, "redis-server", "--version"), port: freePort(t)}
	r.start(t)
	return r
}

func (r *redisServer) addr() string { return net.JoinHostPort("127.0.0.1", r.port) }

// start runs redis-server on r's port and waits until it accepts.
func (r *redisServer) start(t *testing.T) {
	t.Helper()
	r.cmd = exec.Command(r.bin, "--port", r.port, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	r.done = startProcess(t, "redis-server", r.cmd)
	waitDial(t, "tcp", r.addr(), r.done)
}

// kill stops redis-server at once, as a crash or an OOM kill would, and
// waits until it has exited.
func (r *redisServer) kill(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill redis-server: %v", err)
	}
	<-r.done
}
