package integration

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A frontServer is one of the front servers `dorritctl config` writes a
// configuration for, started by the tests with that configuration.
type frontServer struct {
	name string // dorritctl config's target
	// start runs the front server with conf, what dorritctl config
	// printed (perhaps edited by the test), and waits until it accepts
	// on listen. It is stopped when the test ends.
	start func(t *testing.T, conf, listen string)
	// idleTimeout edits conf so that the front server closes an upgraded
	// connection after d without a byte either way; nil for a front
	// server that has no such timeout.
	idleTimeout func(t *testing.T, conf string, d time.Duration) string
}

var fronts = []frontServer{
	{"nginx", startNginxFront, nginxIdleTimeout},
	{"haproxy", startHAProxy, haproxyIdleTimeout},
	{"caddy", startCaddy, nil},
	{"apache", startApache, apacheIdleTimeout},
}

// generated is what `dorritctl config TARGET ARGS` prints.
func generated(t *testing.T, target string, args ...string) string {
	t.Helper()
	cmd := exec.Command(dorritctlBin, append([]string{"config", target}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("dorritctl config %s %q: %v\n%s", target, args, err, stderr.String())
	}
	return string(out)
}

// frontConfig is the configuration dorritctl prints for front f in front
// of the server name on socket, listening on a free loopback port.
func frontConfig(t *testing.T, f frontServer, name, socket string) (conf, listen string) {
	t.Helper()
	listen = "127.0.0.1:" + freePort(t)
	return generated(t, f.name, name, "--socket", socket, "--listen", listen), listen
}

// replaceOnce replaces old in conf, which must hold it once.
func replaceOnce(t *testing.T, conf, old, new string) string {
	t.Helper()
	if n := strings.Count(conf, old); n != 1 {
		t.Fatalf("%q is in dorritctl's configuration %d times, want once:\n%s", old, n, conf)
	}
	return strings.Replace(conf, old, new, 1)
}

func startNginxFront(t *testing.T, conf, listen string) { startNginx(t, conf, listen) }

// nginx cuts an upgraded connection after proxy_read_timeout without a
// byte from either side.
func nginxIdleTimeout(t *testing.T, conf string, d time.Duration) string {
	return replaceOnce(t, conf, "        proxy_pass http://unix:", fmt.Sprintf("        proxy_read_timeout %ds;\n        proxy_pass http://unix:", int(d.Seconds())))
}

func startHAProxy(t *testing.T, conf, listen string) {
	t.Helper()
	bin := tool(t, "haproxy", "-v")
	file := filepath.Join(t.TempDir(), "front.cfg")
	writeFile(t, file, conf)
	done := startProcess(t, "haproxy", frontCommand(t, bin, "-db", "-f", file))
	waitDial(t, "tcp", listen, done)
}

// HAProxy closes a tunnel after "timeout tunnel" without a byte.
func haproxyIdleTimeout(t *testing.T, conf string, d time.Duration) string {
	return replaceOnce(t, conf, "timeout tunnel 1h", fmt.Sprintf("timeout tunnel %ds", int(d.Seconds())))
}

func startCaddy(t *testing.T, conf, listen string) {
	t.Helper()
	bin := tool(t, "caddy", "version")
	dir := t.TempDir()
	// No admin endpoint: the generated one is a socket in the caddy
	// account's home, which tests leave alone.
	conf = regexp.MustCompile(`(?m)^\tadmin unix/.*$`).ReplaceAllString(conf, "\tadmin off")
	if !strings.Contains(conf, "\tadmin off\n") {
		t.Fatalf("no admin line in dorritctl's Caddyfile:\n%s", conf)
	}
	file := filepath.Join(dir, "Caddyfile")
	writeFile(t, file, conf)
	cmd := frontCommand(t, bin, "run", "--config", file, "--adapter", "caddyfile")
	// Caddy's data and configuration stay in the test's directory.
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	done := startProcess(t, "caddy", cmd)
	waitDial(t, "tcp", listen, done)
}

// serviceFiles is the descriptor limit systemd gives a service that sets
// none (soft; Debian's nginx.service and apache2.service set none), which
// the front servers start with here, so that a configuration that needs
// more has to raise it as it would under systemd.
const serviceFiles = 1024

// frontCommand runs a front server with the soft descriptor limit of a
// systemd service (prlimit execs it: the PID is the front server's).
func frontCommand(t *testing.T, bin string, args ...string) *exec.Cmd {
	t.Helper()
	prlimit := tool(t, "prlimit", "--version")
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		t.Fatal(err)
	}
	limit := fmt.Sprintf("--nofile=%d:%d", min(serviceFiles, r.Max), r.Max)
	return exec.Command(prlimit, append([]string{limit, "--", bin}, args...)...)
}

// apacheModules is where Debian keeps Apache's modules.
const apacheModules = "/usr/lib/apache2/modules"

func startApache(t *testing.T, conf, listen string) {
	t.Helper()
	bin := tool(t, "apache2", "-v")
	for _, m := range []string{"mod_mpm_event.so", "mod_authz_core.so", "mod_proxy.so", "mod_proxy_http.so"} {
		if _, err := os.Stat(filepath.Join(apacheModules, m)); err != nil {
			t.Fatalf("Apache is installed without %s in %s (Debian's apache2 has it)", m, apacheModules)
		}
	}
	dir := t.TempDir()
	site := filepath.Join(dir, "site.conf")
	writeFile(t, site, conf)
	account := ""
	if os.Geteuid() == 0 {
		account = "User nobody\nGroup " + nobodyGroup(t)
	}
	main := fmt.Sprintf(`ServerRoot %[1]s
DefaultRuntimeDir %[1]s
PidFile %[1]s/httpd.pid
ErrorLog %[1]s/error.log
ServerName localhost
LoadModule mpm_event_module %[2]s/mod_mpm_event.so
LoadModule authz_core_module %[2]s/mod_authz_core.so
LoadModule proxy_module %[2]s/mod_proxy.so
LoadModule proxy_http_module %[2]s/mod_proxy_http.so
%[3]s
Include %[4]s
`, dir, apacheModules, account, site)
	file := filepath.Join(dir, "httpd.conf")
	writeFile(t, file, main)
	done := startProcess(t, "apache", frontCommand(t, bin, "-DFOREGROUND", "-f", file))
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("apache error.log:\n%s", b)
		}
	})
	waitDial(t, "tcp", listen, done)
}

// Apache closes a tunnel after the larger of Timeout and ProxyTimeout
// without a byte.
func apacheIdleTimeout(t *testing.T, conf string, d time.Duration) string {
	return replaceOnce(t, conf, "    ProxyPass ", fmt.Sprintf("    Timeout %[1]d\n    ProxyTimeout %[1]d\n    ProxyPass ", int(d.Seconds())))
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// refusal describes a handshake answered without an upgrade.
func refusal(resp *http.Response) string {
	if resp == nil {
		return "no HTTP answer"
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return fmt.Sprintf("HTTP %d, Retry-After %q, body %q", resp.StatusCode, resp.Header.Get("Retry-After"), body)
}
