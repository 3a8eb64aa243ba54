package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/dorritgo/dorrit/internal/testproc"
	"github.com/redis/go-redis/v9"
)

// redisServer is a real redis-server on a free loopback port, without
// persistence: a restart loses everything, as the tests want.
type redisServer struct {
	t    *testing.T
	bin  string
	port int
	proc *testproc.Proc // nil while stopped
}

// startRedis starts redis-server, skipping the test where there is none,
// except in CI (CI=true), which installs it (.ci/run).
func startRedis(t *testing.T) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not installed; .ci/run installs it (apt-get install redis-server)")
		}
		t.Skip("redis-server is not installed (apt-get install redis-server); CI runs this test")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	r := &redisServer{t: t, bin: bin, port: port}
	r.start()
	t.Cleanup(r.kill)
	return r
}

func (r *redisServer) url() string { return "redis://" + r.addr() }
func (r *redisServer) addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port))
}

// start runs redis-server on r's port and waits until it answers PING.
func (r *redisServer) start() {
	r.t.Helper()
	cmd := exec.Command(r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	r.proc = testproc.Start(r.t, cmd, testproc.Options{Name: "redis-server"})
	exited := r.proc.Done()
	c := redis.NewClient(&redis.Options{Addr: r.addr(), DisableIdentity: true, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		select {
		case <-exited:
			r.t.Fatalf("redis-server on port %d exited: %s", r.port, r.proc.Output())
		default:
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server on port %d does not answer after 10 s: %v", r.port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill stops redis-server the hard way, as a crash would, and waits for
// it to be gone.
func (r *redisServer) kill() {
	if r.proc == nil {
		return
	}
	r.proc.Kill()
	r.proc = nil
}
