package integration

import (
	"net"
	"os/exec"
	"testing"
)

// startRedis runs redis-server on a free loopback port, without
// persistence, until the test ends, and returns its address.
func startRedis(t *testing.T) string {
	t.Helper()
	bin := tool(t, "redis-server", "--version")
	port := freePort(t)
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	addr := net.JoinHostPort("127.0.0.1", port)
	waitDial(t, "tcp", addr, startProcess(t, "redis-server", cmd))
	return addr
}
