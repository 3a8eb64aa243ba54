package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dorritgo/dorrit/internal/testproc"
)

// daemon is a server started as a daemon by `dorritctl start`, as an
// operator would: it has the pidfile /var/run/<name>.pid and the control
// socket beside it, which dorritctl reload and status find it by.
type daemon struct {
	name string
}

// startDaemon runs `dorritctl start name -- bin -l socket -g <nobody's
// group> flags…` and stops the daemon when the test ends. It needs root:
// only a server started as root writes the pidfile dorritctl finds it by.
// A daemon of that name already running (another test run on this
// machine) fails the test rather than be upgraded or stopped by it.
func startDaemon(t *testing.T, name, bin, socket string, flags ...string) *daemon {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: dorritctl start runs a daemon with /var/run/" + name + ".pid, which only root writes")
	}
	d := &daemon{name: name}
	if st := d.status(t); st.State != "stopped" {
		t.Fatalf("a server named %s is %s on this machine already (dorritctl status %s): stop it first", name, st.State, name)
	}
	args := append([]string{"start", name, "--", bin, "-l", socket, "-g", nobodyGroup(t)}, flags...)
	out, err := exec.Command(dorritctlBin, args...).CombinedOutput()
	if err != nil || strings.Contains(string(out), "already running") {
		t.Fatalf("dorritctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	// Killed when the test ends, after the stop below, or when the test
	// process dies: the daemon leads a session of its own.
	if st := d.status(t); st.PID > 1 {
		testproc.Tie(t, st.PID)
	}
	t.Cleanup(func() {
		out, err := exec.Command(dorritctlBin, "stop", name, "--force", "--timeout", "20s").CombinedOutput()
		if err != nil {
			t.Errorf("dorritctl stop %s: %v\n%s", name, err, out)
		}
	})
	return d
}

// daemonStatus is what `dorritctl status --json` says of a daemon, as far
// as the tests read it.
type daemonStatus struct {
	State  string `json:"state"`
	PID    int    `json:"pid"`
	Status *struct {
		Servers []struct {
			PID  int    `json:"pid"`
			Role string `json:"role"`
		} `json:"servers"`
		Total    serverStats `json:"total"`
		Upgrades int         `json:"upgrades"`
	} `json:"status"`
}

func (d *daemon) status(t *testing.T) daemonStatus {
	t.Helper()
	out, err := exec.Command(dorritctlBin, "status", d.name, "--json").Output()
	var st daemonStatus
	if jerr := json.Unmarshal(out, &st); jerr != nil {
		t.Fatalf("dorritctl status %s --json: %v, %v:\n%s", d.name, err, jerr, out)
	}
	return st
}

// reload runs `dorritctl reload`, which returns once the new server
// process accepts, and gives the PID of the server process it replaced.
func (d *daemon) reload(t *testing.T) (old int) {
	t.Helper()
	out, err := exec.Command(dorritctlBin, "reload", d.name).CombinedOutput()
	if err != nil {
		t.Fatalf("dorritctl reload %s: %v\n%s", d.name, err, out)
	}
	t.Logf("dorritctl reload: %s", strings.TrimSpace(string(out)))
	_, after, ok := strings.Cut(string(out), " replaced PID ")
	if !ok {
		t.Fatalf("dorritctl reload %s says no replaced PID:\n%s", d.name, out)
	}
	old, err = strconv.Atoi(strings.TrimRight(strings.Fields(after)[0], ","))
	if err != nil {
		t.Fatalf("dorritctl reload %s: %v\n%s", d.name, err, out)
	}
	return old
}

// hup sends SIGHUP to the supervisor, as an init script's reload does,
// and waits until the status counts the upgrade; it gives the PID of the
// server process it replaced.
func (d *daemon) hup(t *testing.T) (old int) {
	t.Helper()
	st := d.status(t)
	if st.Status == nil || len(st.Status.Servers) == 0 {
		t.Fatalf("dorritctl status %s: no server process: %+v", d.name, st)
	}
	old, upgrades := st.Status.Servers[0].PID, st.Status.Upgrades
	if err := syscall.Kill(st.PID, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	d.waitStatus(t, "the upgrade after SIGHUP", func(st daemonStatus) bool {
		return st.Status != nil && st.Status.Upgrades > upgrades
	})
	return old
}

// waitStatus polls dorritctl status until ok holds, for 20 s at most.
func (d *daemon) waitStatus(t *testing.T, what string, ok func(daemonStatus) bool) daemonStatus {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := d.status(t)
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 20 s: dorritctl status %s says %+v", what, d.name, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// serverStats are the figures of dorrit.Stats the tests read, by the
// names dorritctl status --json gives them (Go's field names).
type serverStats struct {
	Accepted    uint64
	MessagesIn  uint64
	MessagesOut uint64
	Undelivered uint64
	Refused     struct{ Full uint64 }
}
