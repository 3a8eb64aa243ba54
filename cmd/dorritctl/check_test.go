package main

import (
	"errors"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/internal/testproc"
)

// nobodyGroup is the primary group of nobody (nogroup on Debian).
func nobodyGroup(t *testing.T) string {
	t.Helper()
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody here")
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		t.Skipf("nobody's primary group %s does not exist", u.Gid)
	}
	return g.Name
}

// A socket in a 0700 directory: nobody cannot reach it, and the fix says
// which directory to open.
func TestCheckClosedDirectory(t *testing.T) {
	needRoot(t)
	group := nobodyGroup(t)
	private := filepath.Join(sharedDir(t), "private")
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	sock := startEcho(t, dorrit.Options{Path: filepath.Join(private, "echo.socket"), SocketGroup: group})
	r := ctl("", "check", sock, "--as", "nobody")
	if r.code != exitFailure {
		t.Fatalf("want exit 1:\n%v", r)
	}
	want := "chmod o+x " + private
	if !strings.Contains(r.stdout, want) {
		t.Errorf("the report does not say %q:\n%v", want, r)
	}
	fixes := 0
	for line := range strings.Lines(r.stdout) {
		if strings.HasPrefix(line, "fix ") {
			fixes++
		}
	}
	if fixes != 1 {
		t.Errorf("want one fix line (the directory), got %d:\n%v", fixes, r)
	}

	// With the directory open, everything is ok.
	os.Chmod(private, 0o711)
	r = ctl("", "check", sock, "--as", "nobody")
	if r.code != 0 || strings.Contains(r.stdout, "fix ") {
		t.Errorf("want all ok:\n%v", r)
	}
	if n := strings.Count(r.stdout, "\nok "); n < 3 {
		t.Errorf("want socket, access and two handshakes ok:\n%v", r)
	}
}

// A socket whose group the account is not in: the fix is -g.
func TestCheckSocketGroup(t *testing.T) {
	needRoot(t)
	group := nobodyGroup(t)
	sock := startEcho(t, dorrit.Options{}) // root:root, 0770
	r := ctl("", "check", sock, "--as", "nobody")
	if r.code != exitFailure || !strings.Contains(r.stdout, "-g "+group) {
		t.Errorf("want the fix -g %s:\n%v", group, r)
	}
	// Joining root's group would hand the front server every file root
	// shares with its group: never a fix.
	if strings.Contains(r.stdout, "usermod") {
		t.Errorf("the fix suggests joining root's group:\n%v", r)
	}
}

// A socket whose group is an ordinary one the account is not in: both
// fixes, -g and joining that group, are fine.
func TestCheckSocketOtherGroup(t *testing.T) {
	needRoot(t)
	group := nobodyGroup(t)
	sock := startEcho(t, dorrit.Options{SocketGroup: group})
	r := ctl("", "check", sock, "--as", "root")
	if r.code != 0 {
		t.Fatalf("root reaches every socket:\n%v", r)
	}
	const other = "daemon" // Debian's and FreeBSD's user daemon, not in nogroup
	if _, err := user.Lookup(other); err != nil {
		t.Skipf("no user %s here", other)
	}
	r = ctl("", "check", sock, "--as", other)
	if r.code != exitFailure || !strings.Contains(r.stdout, "usermod -aG "+group+" "+other) {
		t.Errorf("want the fix usermod -aG %s %s:\n%v", group, other, r)
	}
}

func TestCheckNoSocket(t *testing.T) {
	dir := t.TempDir()
	r := ctl("", "check", filepath.Join(dir, "none.socket"))
	if r.code != exitNotRunning || !strings.Contains(r.stdout, "fix  no socket at") {
		t.Errorf("missing: %v", r)
	}
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, nil, 0o644)
	r = ctl("", "check", plain)
	if r.code != exitFailure || !strings.Contains(r.stdout, "not a socket") || !strings.Contains(r.stdout, "rm "+plain) {
		t.Errorf("regular file: %v", r)
	}
}

// A server that refuses browsers: the browser line says so, with the body.
func TestCheckBrowserRefused(t *testing.T) {
	sock := startEcho(t, dorrit.Options{Authorize: func(r *http.Request) (any, error) {
		if r.Header.Get("Origin") != "" {
			return nil, errors.New("browsers are not served here")
		}
		return nil, nil
	}})
	r := ctl("", "check", sock)
	if r.code != exitFailure {
		t.Fatalf("want exit 1:\n%v", r)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "fix ") || !strings.Contains(last, "403") || !strings.Contains(last, "browsers are not served here") {
		t.Errorf("last line %q; want the browser handshake's fix with the refusal:\n%v", last, r)
	}
	if !strings.Contains(r.stdout, "ok   the server answers a WebSocket handshake") {
		t.Errorf("the plain handshake should pass:\n%v", r)
	}
}

// Without --as, check looks at the front servers running here, with the
// groups they run with.
func TestCheckRunningFront(t *testing.T) {
	needRoot(t)
	group := nobodyGroup(t)
	socket := startEcho(t, dorrit.Options{}) // root:root 0770: nobody cannot connect
	listen := "127.0.0.1:" + freePort(t)
	runFront(t, "nginx", startNginx(t, t.TempDir(), socket, listen), listen)
	r := ctl("", "check", socket)
	if r.code != exitFailure || !regexp.MustCompile(`fix  nginx \(pid \d+, user nobody\) cannot connect .* -g `+group).MatchString(r.stdout) {
		t.Errorf("want nginx's worker found and the fix -g %s:\n%v", group, r)
	}
}

// A front server with a /tmp of its own (systemd's PrivateTmp) does not see
// a socket in ours.
func TestCheckPrivateTmp(t *testing.T) {
	needRoot(t)
	unshare := tool(t, "unshare")
	if err := exec.Command(unshare, "--mount", "--propagation", "private", "true").Run(); err != nil {
		t.Skipf("cannot make a mount namespace here: %v", err)
	}
	group := nobodyGroup(t)
	socket := startEcho(t, dorrit.Options{SocketGroup: group})
	// nginx's files must be outside the /tmp it will not see.
	dir, err := os.MkdirTemp("/var/tmp", "dorritctl-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	listen := "127.0.0.1:" + freePort(t)
	nginx := startNginx(t, dir, socket, listen)
	cmd := exec.Command(unshare, "--mount", "--propagation", "private", "sh", "-c",
		`mount -t tmpfs tmpfs /tmp && exec "$@"`, "sh")
	cmd.Args = append(cmd.Args, nginx.Args...)
	runFront(t, "nginx in a mount namespace", cmd, listen)
	r := ctl("", "check", socket)
	if r.code != exitFailure || !strings.Contains(r.stdout, "does not see "+socket) || !strings.Contains(r.stdout, "PrivateTmp") {
		t.Errorf("want the private /tmp found:\n%v", r)
	}
}

func TestProcAccount(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no Linux /proc")
	}
	a, name := procAccount(os.Getpid())
	if a == nil || a.uid != uint32(os.Geteuid()) || a.gid != uint32(os.Getegid()) || name == "" {
		t.Fatalf("procAccount(self) = %+v, %q", a, name)
	}
}

// startNginx is nginx with the configuration dorritctl prints in front of
// socket, its workers running as nobody when the test runs as root.
func startNginx(t *testing.T, dir, socket, listen string) *exec.Cmd {
	nginx := tool(t, "nginx")
	snippet := writeFile(t, filepath.Join(dir, "echo.conf"), generate(t, "nginx", "echo", "--socket", socket, "--listen", listen))
	extra := "daemon off;"
	if os.Geteuid() == 0 {
		extra += "\nuser nobody " + nobodyGroup(t) + ";"
	}
	conf := writeFile(t, filepath.Join(dir, "nginx.conf"), nginxConf(dir, snippet, extra))
	return exec.Command(nginx, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", conf)
}

// runFront starts a front server and waits until it accepts on listen;
// it is stopped when the test ends (SIGTERM, then its whole process group:
// Apache, stopped while it replaces a child, now and then waits 10 s for
// it).
func runFront(t *testing.T, name string, cmd *exec.Cmd, listen string) {
	t.Helper()
	p := testproc.Start(t, cmd, testproc.Options{Name: name, Stop: syscall.SIGTERM, Grace: 3 * time.Second})
	waitTCP(t, listen, p.Done())
}
