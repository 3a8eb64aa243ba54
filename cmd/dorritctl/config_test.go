package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/dorritgo/dorrit"
	"golang.org/x/sys/unix"
)

// generate runs dorritctl config and returns what it printed.
func generate(t *testing.T, args ...string) string {
	t.Helper()
	r := ctl("", append([]string{"config"}, args...)...)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("dorritctl config %q:\n%v", args, r)
	}
	return r.stdout
}

// tool finds a program, also in the sbin directories a non-root PATH lacks.
func tool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		// .ci/run installed it: a missing front server in CI means it
		// was not exercised, which must not pass unnoticed.
		t.Fatalf("%s is not installed, and CI=true: .ci/run should have installed it from Debian", name)
	}
	t.Skipf("%s is not installed (.ci/run installs it from Debian)", name)
	return ""
}

func writeFile(t *testing.T, path, text string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// runTool runs a checker and fails the test with its output.
func runTool(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Every configuration states the 0770 socket and how to get into its group.
func TestConfigComments(t *testing.T) {
	for target, group := range map[string]string{
		"nginx": "www-data", "haproxy": "haproxy", "caddy": "caddy", "apache": "www-data", "systemd": "www-data", "rcd": "www",
	} {
		text := generate(t, target, "echo")
		if !strings.Contains(text, "0770") || !strings.Contains(text, "-g "+group) {
			t.Errorf("%s: the comments must say the socket is 0770 and -g %s:\n%s", target, group, text)
		}
	}
	if text := generate(t, "nginx", "echo", "--group", "nginx"); !strings.Contains(text, "-g nginx") {
		t.Errorf("--group is not used:\n%s", text)
	}
}

// A front server's file serves both kinds of server: one run by lifecycle
// (its flags) and an application that calls dorrit.Listen in a daemon of
// its own (Options), since only the socket's path and group matter.
func TestConfigCommentsForEmbedding(t *testing.T) {
	for target, group := range map[string]string{"nginx": "www-data", "haproxy": "haproxy", "caddy": "caddy", "apache": "www-data"} {
		text := generate(t, target, "echo", "--socket", "/run/echo.socket")
		for _, want := range []string{
			"echo -l /run/echo.socket -g " + group,
			`dorrit.Options{Path: "/run/echo.socket", SocketGroup: "` + group + `"}`,
		} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: the comments do not say %s:\n%s", target, want, text)
			}
		}
	}
}

// nginxConf wraps the generated file in a minimal nginx.conf.
func nginxConf(dir, snippet, extra string) string {
	return fmt.Sprintf(`%s
pid %s/nginx.pid;
error_log %s/error.log;
events {}
http {
    access_log off;
    client_body_temp_path %s/body;
    proxy_temp_path %s/proxy;
    include %s;
}
`, extra, dir, dir, dir, dir, snippet)
}

func TestConfigNginx(t *testing.T) {
	nginx := tool(t, "nginx")
	dir := t.TempDir()
	// nginx -t binds the listening address: a free one, not port 80.
	text := generate(t, "nginx", "echo", "--location", "/chat", "--host", "example.com", "--listen", "127.0.0.1:"+freePort(t))
	for _, want := range []string{
		"map $http_upgrade $connection_upgrade", "proxy_http_version 1.1;", "proxy_set_header Host $http_host;",
		"proxy_set_header Connection $connection_upgrade;", "proxy_pass http://unix:/var/run/echo.socket;",
		"location /chat {", "server_name example.com;", "proxy_read_timeout",
		// 2,000 WebSockets and the 503 of one more (integration's
		// TestFrontsMaxConns runs nginx with these lines).
		"#     worker_rlimit_nofile 10000;\n", "#     events { worker_connections 5000; }\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("nginx: no %q in\n%s", want, text)
		}
	}
	snippet := writeFile(t, filepath.Join(dir, "echo.conf"), text)
	conf := writeFile(t, filepath.Join(dir, "nginx.conf"), nginxConf(dir, snippet, ""))
	runTool(t, nil, nginx, "-t", "-q", "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", conf)
}

func TestConfigHAProxy(t *testing.T) {
	haproxy := tool(t, "haproxy")
	text := generate(t, "haproxy", "echo")
	for _, want := range []string{"timeout tunnel", "server echo /var/run/echo.socket", "chroot", "path_beg /ws/", "maxconn of 2000 or"} {
		if !strings.Contains(text, want) {
			t.Errorf("haproxy: no %q in\n%s", want, text)
		}
	}
	cfg := writeFile(t, filepath.Join(t.TempDir(), "echo.cfg"), text)
	runTool(t, nil, haproxy, "-c", "-q", "-f", cfg)
}

func TestConfigCaddy(t *testing.T) {
	caddy := tool(t, "caddy")
	for _, args := range [][]string{
		{"caddy", "echo"},
		{"caddy", "echo", "--host", "example.com"},
		{"caddy", "echo", "--listen", "127.0.0.1:8080", "--location", "/chat"},
	} {
		dir := t.TempDir()
		text := generate(t, args...)
		if !strings.Contains(text, "reverse_proxy @echo_ws unix//var/run/echo.socket") {
			t.Errorf("caddy %q: no reverse_proxy to the socket:\n%s", args, text)
		}
		file := writeFile(t, filepath.Join(dir, "Caddyfile"), text)
		runTool(t, caddyEnv(dir), caddy, "validate", "--config", file, "--adapter", "caddyfile")
	}
}

// caddyEnv keeps Caddy's data and configuration in dir.
// Two Caddys, each with its generated file, run at once on one host and
// each is reloaded the way Debian's caddy.service does. Caddy binds its
// listeners with SO_REUSEPORT, so a second one on the default admin
// address, localhost:2019, does not fail: the two share it, and a reload
// meant for one may replace the other's configuration.
func TestConfigCaddyTwoAtOnce(t *testing.T) {
	caddy := tool(t, "caddy")
	if fi, err := os.Stat(caddyHome); err != nil || !fi.IsDir() {
		// Debian's caddy package makes it (the caddy account's home).
		t.Skipf("no %s here: the generated admin socket lives there", caddyHome)
	}
	if unix.Access(caddyHome, unix.W_OK) != nil {
		// The files are for the caddy account (or root, as CI runs).
		t.Skipf("%s is not writable by this account: the generated admin socket lives there", caddyHome)
	}
	type site struct{ file, dir, listen string }
	var sites []site
	for _, name := range []string{"dorritctl-test-a", "dorritctl-test-b"} {
		socket := startEcho(t, dorrit.Options{})
		s := site{dir: t.TempDir(), listen: "127.0.0.1:" + freePort(t)}
		s.file = writeFile(t, filepath.Join(s.dir, "Caddyfile"), generate(t, "caddy", name, "--socket", socket, "--listen", s.listen))
		cmd := exec.Command(caddy, "run", "--config", s.file, "--adapter", "caddyfile")
		cmd.Env = append(os.Environ(), caddyEnv(s.dir)...)
		runFront(t, "caddy for "+name, cmd, s.listen)
		sites = append(sites, s)
	}
	// Neither answers on the default admin address (another Caddy on this
	// host may: only ours count).
	for range 20 {
		resp, err := http.Get("http://localhost:2019/config/")
		if err != nil {
			break
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, s := range sites {
			if strings.Contains(string(body), s.listen) {
				t.Fatalf("the Caddy listening on %s has its admin endpoint on localhost:2019:\n%s", s.listen, body)
			}
		}
	}
	for _, s := range sites {
		runTool(t, caddyEnv(s.dir), caddy, "reload", "--config", s.file, "--adapter", "caddyfile", "--force")
	}
	for _, s := range sites {
		echoThrough(t, "ws://"+s.listen+"/ws")
	}
}

// echoThrough sends a message to the echo server behind url and wants it back.
func echoThrough(t *testing.T, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	_, msg, err := c.Read(ctx)
	if err != nil || string(msg) != "hello" {
		t.Fatalf("through %s: read %q, %v; want the echo", url, msg, err)
	}
	c.Close(websocket.StatusNormalClosure, "")
}

func caddyEnv(dir string) []string {
	return []string{"HOME=" + dir, "XDG_DATA_HOME=" + dir, "XDG_CONFIG_HOME=" + dir}
}

// apacheModules is where Debian keeps Apache's modules.
const apacheModules = "/usr/lib/apache2/modules"

// apacheConf is a minimal httpd.conf loading what the generated file needs.
func apacheConf(t *testing.T, dir, site, extra string) string {
	t.Helper()
	for _, m := range []string{"mod_mpm_event.so", "mod_authz_core.so", "mod_proxy.so", "mod_proxy_http.so"} {
		if _, err := os.Stat(filepath.Join(apacheModules, m)); err != nil {
			t.Skipf("Apache is installed without %s in %s", m, apacheModules)
		}
	}
	return fmt.Sprintf(`ServerRoot %s
DefaultRuntimeDir %s
PidFile %s/httpd.pid
ErrorLog %s/error.log
ServerName localhost
LoadModule mpm_event_module %s/mod_mpm_event.so
LoadModule authz_core_module %s/mod_authz_core.so
LoadModule proxy_module %s/mod_proxy.so
LoadModule proxy_http_module %s/mod_proxy_http.so
%s
Include %s
`, dir, dir, dir, dir, apacheModules, apacheModules, apacheModules, apacheModules, extra, site)
}

func TestConfigApache(t *testing.T) {
	apache := tool(t, "apache2")
	dir := t.TempDir()
	text := generate(t, "apache", "echo")
	for _, want := range []string{
		"ProxyPreserveHost On", `ProxyPass "/ws" "unix:/var/run/echo.socket|http://localhost/ws" upgrade=websocket`,
		// A thread for each of 2,000 WebSockets and for the 503 of one
		// more: checked by apache2 -t below, and at work in integration's
		// TestFrontsMaxConns.
		"<IfModule mpm_event_module>", "ServerLimit         33", "ThreadsPerChild     64", "MaxRequestWorkers   2112",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("apache: no %q in\n%s", want, text)
		}
	}
	site := writeFile(t, filepath.Join(dir, "echo.conf"), text)
	conf := writeFile(t, filepath.Join(dir, "httpd.conf"), apacheConf(t, dir, site, "Listen 80"))
	runTool(t, nil, apache, "-t", "-f", conf)
}

func TestConfigSystemd(t *testing.T) {
	analyze := tool(t, "systemd-analyze")
	for _, activation := range []bool{false, true} {
		dir := t.TempDir()
		args := []string{"config", "systemd", "echo", "--binary", echoBin, "--out", dir}
		if activation {
			args = append(args, "--socket-activation")
		}
		r := ctl("", args...)
		if r.code != 0 {
			t.Fatalf("%v", r)
		}
		units := []string{filepath.Join(dir, "echo.service")}
		if activation {
			units = append(units, filepath.Join(dir, "echo.socket"))
		}
		service, _ := os.ReadFile(units[0])
		for _, want := range []string{"Type=notify", "-x -l /run/echo.socket -g www-data", "ExecReload=/bin/kill -HUP $MAINPID"} {
			if !strings.Contains(string(service), want) {
				t.Errorf("service: no %q in\n%s", want, service)
			}
		}
		if activation {
			socket, err := os.ReadFile(units[1])
			if err != nil || !strings.Contains(string(socket), "ListenStream=/run/echo.socket") ||
				!strings.Contains(string(socket), "SocketMode=0770") || !strings.Contains(string(service), "Requires=echo.socket") {
				t.Errorf("socket activation: %v\n%s\n%s", err, service, socket)
			}
		}
		// systemd-analyze reports unknown keys and the like without
		// failing: any output is a finding.
		if out := runTool(t, nil, analyze, append([]string{"verify"}, units...)...); strings.TrimSpace(out) != "" {
			t.Errorf("systemd-analyze verify:\n%s", out)
		}
	}
}

// The rc.d script is checked by sh and run against a stand-in for
// FreeBSD's rc.subr that prints what the script set up.
func TestConfigRcd(t *testing.T) {
	sh := tool(t, "sh")
	dir := t.TempDir()
	r := ctl("", "config", "rcd", "echo", "--socket", "/var/run/other.socket", "--out", dir)
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	script := filepath.Join(dir, "echo")
	if fi, err := os.Stat(script); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("the script must be executable: %v %v", fi.Mode(), err)
	}
	runTool(t, nil, sh, "-n", script)

	text, _ := os.ReadFile(script)
	subr := writeFile(t, filepath.Join(dir, "rc.subr"), `
load_rc_config() { [ "$1" = "$name" ] || echo "load_rc_config $1"; }
run_rc_command() {
	eval enable=\$${name}_enable flags=\$${name}_flags
	echo "cmd=$1 name=$name rcvar=$rcvar command=$command pidfile=$pidfile enable=$enable flags=$flags stop=$sig_stop reload=$sig_reload extra=$extra_commands"
}
`)
	local := writeFile(t, filepath.Join(dir, "echo.local"), strings.Replace(string(text), ". /etc/rc.subr", ". "+subr, 1))
	out := runTool(t, nil, sh, local, "forcestatus")
	want := "cmd=forcestatus name=echo rcvar=echo_enable command=/usr/local/bin/echo pidfile=/var/run/echo.pid enable=NO flags=-u www -g www -l /var/run/other.socket stop=TERM reload=HUP extra=reload\n"
	if out != want {
		t.Errorf("the script set up\n%s\nwant\n%s", out, want)
	}
	out = runTool(t, []string{"echo_enable=YES", "echo_flags=-g www -m 100"}, sh, local, "start")
	if !strings.Contains(out, "enable=YES flags=-g www -m 100") {
		t.Errorf("rc.conf's variables must win over the defaults: %s", out)
	}
}
