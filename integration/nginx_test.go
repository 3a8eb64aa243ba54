package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nginx is a running nginx; its access log records every request with
// its status, Origin, Host and the upstream it went to.
type nginx struct {
	dir string
}

// startNginx runs nginx with http, the inside of its http { } block, and
// waits until it accepts on every address in listen. As root its workers
// run as nobody in nobody's group, as the servers' sockets want. The
// lines the generated configuration tells operators to put in nginx.conf
// outside http { } (its connection limits) go there.
func startNginx(t *testing.T, http string, listen ...string) *nginx {
	t.Helper()
	bin := tool(t, "nginx", "-v")
	dir := t.TempDir()
	user := ""
	if os.Geteuid() == 0 {
		user = "user nobody " + nobodyGroup(t) + ";"
	}
	main, events := nginxMainLines(http)
	conf := fmt.Sprintf(`daemon off;
%s
%[4]s
pid %[2]s/nginx.pid;
error_log %[2]s/error.log;
events { %[5]s }
http {
    log_format origin '"$request" $status origin=$http_origin host=$http_host upstream=$upstream_addr';
    access_log %[2]s/access.log origin;
    client_body_temp_path %[2]s/body;
    proxy_temp_path %[2]s/proxy;
    types { text/html html; }
%[3]s
}
`, user, dir, http, main, events)
	file := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	done := startProcess(t, "nginx", frontCommand(t, bin, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", file))
	for _, addr := range listen {
		waitDial(t, "tcp", addr, done)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, name := range []string{"nginx.conf", "error.log", "access.log"} {
				b, _ := os.ReadFile(filepath.Join(dir, name))
				t.Logf("nginx %s:\n%s", name, b)
			}
		}
	})
	return &nginx{dir: dir}
}

// nginxMainLines finds the directives a configuration dorritctl
// generated asks for in nginx.conf, outside http { }: comment lines
// "#     worker_rlimit_nofile N;" and "#     events { worker_connections N; }".
func nginxMainLines(conf string) (main, events string) {
	for line := range strings.Lines(conf) {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "#"))
		if strings.HasPrefix(line, "worker_rlimit_nofile ") {
			main = line
		}
		if inner, ok := strings.CutPrefix(line, "events {"); ok && strings.HasSuffix(inner, "}") {
			events = strings.TrimSpace(strings.TrimSuffix(inner, "}"))
		}
	}
	return main, events
}

// waitLog waits until a line of the access log contains every one of want.
func (n *nginx) waitLog(t *testing.T, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(n.dir, "access.log"))
		for line := range strings.Lines(string(b)) {
			if containsAll(line, want) {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no line of nginx's access log has %q after 10 s:\n%s", want, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// withLocation adds a location to the last server { } of a configuration
// dorritctl generated: its server block ends the text.
func withLocation(t *testing.T, conf, location string) string {
	t.Helper()
	i := strings.LastIndex(conf, "}")
	if i < 0 || !strings.Contains(conf, "server {") {
		t.Fatalf("no server { } in dorritctl's configuration:\n%s", conf)
	}
	return conf[:i] + location + "\n" + conf[i:]
}
