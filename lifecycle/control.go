package lifecycle

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/dorritgo/dorrit/internal/account"
	"github.com/dorritgo/dorrit/internal/control"
	"github.com/dorritgo/dorrit/internal/peercred"
)

// The control socket, <PidDir>/<name>.ctl, answers dorritctl status with
// what only the running server knows: its processes, their live figures
// and what the supervisor did so far (package internal/control has the
// protocol).
//
// It is private to the account that started the server (root, for a
// service): mode 0700, owned by that account, and each connection's peer
// credentials are checked too, in case the mode was changed. The front
// server, in the public socket's group, and the server processes, running
// as -u/-g, cannot read it.
//
// Where it is served: at the path -control (Server.Control) gives, in
// every mode, and a server that cannot create it there does not start,
// since the operator asked for it; otherwise beside the pidfile of a daemon (started as root
// without -x), which cannot start without it; and under systemd, which
// keeps every server in the foreground, in PidDir (/run for a service
// running as root), where it is worth a warning when it cannot be
// created. A server run with -x by hand, or by another supervisor, has
// none unless -control names one: -x promises no files in /var/run, so
// development runs and tests leave nothing there, and the operator who
// wants dorritctl status for such a server (runit, a container) says
// where its socket goes. A control socket left by an instance that is gone
// (killed) is replaced; one a live server of the same name answers on is
// not: a daemon then fails to start, a server under systemd runs without.
const (
	controlMode    = 0o700
	controlTimeout = 5 * time.Second // for one request and its answer
)

// controlSocket is the supervisor's control socket.
type controlSocket struct {
	path string
	ln   *net.UnixListener
	file os.FileInfo // to tell it from a replacement
}

// startControl creates the ledger and, where the rules above say so, the
// control socket. An error stops the start: only a daemon with a pidfile
// insists on its control socket.
func (sv *supervisor) startControl() error {
	sv.led = newLedger()
	sv.started = time.Now()
	path := sv.cfg.Control
	if path == "" {
		if sv.pf == nil && sv.mode() != control.ModeSystemd {
			return nil
		}
		path = control.Path(sv.s.PidDir, sv.s.Name)
	}
	cs, err := listenControl(path)
	switch {
	case err == nil:
		sv.ctl = cs
		go cs.serve(sv)
	case sv.cfg.Control != "":
		return fmt.Errorf("cannot create the control socket (-control): %v", err)
	case sv.pf != nil:
		return fmt.Errorf("cannot create the control socket: %v", err)
	default:
		sv.log.Warn("no control socket: dorritctl status cannot show this server", "err", err)
	}
	return nil
}

// listenControl creates the control socket at path, replacing a file left
// there by an instance that is gone, never one a live server answers on.
func listenControl(path string) (*controlSocket, error) {
	fi, err := os.Lstat(path)
	switch {
	case err == nil && fi.Mode().Type() != fs.ModeSocket:
		return nil, fmt.Errorf("%s exists and is not a socket: remove it", path)
	case err == nil:
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := control.Ask(ctx, path, "status")
		cancel()
		if err == nil {
			return nil, fmt.Errorf("%s is in use: a server named %s runs (supervisor PID %d, %s); stop it first, or give this one another name", path, st.Name, st.Supervisor.PID, st.Mode)
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	ln.SetUnlinkOnClose(false) // close removes it, if it is still this one
	// Created with the umask's mode; until the chmod, the peer check in
	// handle keeps other accounts out.
	if err := os.Chmod(path, controlMode); err != nil {
		ln.Close()
		os.Remove(path)
		return nil, err
	}
	fi, err = os.Lstat(path)
	if err != nil {
		ln.Close()
		return nil, err
	}
	return &controlSocket{path: path, ln: ln, file: fi}, nil
}

// close stops answering and removes the socket file, unless another
// instance has replaced it meanwhile (after deciding this one was gone).
func (cs *controlSocket) close() {
	if cs == nil {
		return
	}
	cs.ln.Close()
	if fi, err := os.Lstat(cs.path); err == nil && os.SameFile(fi, cs.file) {
		os.Remove(cs.path)
	}
}

// serve answers requests until the socket is closed.
func (cs *controlSocket) serve(sv *supervisor) {
	for {
		c, err := cs.ln.AcceptUnix()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			// Out of descriptors, say: the supervisor's other work goes
			// on, and so will this once they are back.
			time.Sleep(100 * time.Millisecond)
			continue
		}
		go cs.handle(c, sv)
	}
}

// handle answers one request.
func (cs *controlSocket) handle(c *net.UnixConn, sv *supervisor) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(controlTimeout))
	answer := func(a control.Answer) {
		a.Version = control.Version
		b, _ := json.Marshal(a)
		c.Write(append(b, '\n'))
	}
	// The request is read before anything is answered, even to a peer
	// that will be refused: closed on a request not yet read, the
	// connection would give the client a broken pipe, not the reason.
	req, err := control.ReadRequest(bufio.NewReaderSize(c, control.MaxRequest))
	if cred, perr := peercred.Of(c); perr != nil || (cred.UID != 0 && int(cred.UID) != os.Geteuid()) {
		answer(control.Answer{Error: fmt.Sprintf("the control socket answers root and %s only", userName(os.Geteuid()))})
		return
	}
	if err != nil {
		answer(control.Answer{Error: err.Error()})
		return
	}
	switch req.Cmd {
	case "status":
		answer(control.Answer{Status: sv.status()})
	default:
		answer(control.Answer{Error: fmt.Sprintf("unknown command %q: this server knows status", req.Cmd)})
	}
}

// status is the answer to a status request.
func (sv *supervisor) status() *control.Status {
	v := sv.led.view()
	st := &control.Status{
		Name: sv.s.Name,
		Mode: sv.mode(),
		Now:  time.Now(),
		Supervisor: control.Supervisor{
			PID:     os.Getpid(),
			User:    userName(os.Geteuid()),
			Started: sv.started,
			Args:    os.Args[1:],
		},
		Socket:          socketStatus(sv.ul.Addr().String()),
		Total:           v.total,
		Crashes:         v.crashes,
		CrashRestarts:   v.crashRestarts,
		Upgrades:        v.upgrades,
		UpgradeAttempts: v.attempts,
		LastUpgrade:     v.lastUpgrade,
		Stopping:        v.stopping,
		DrainTimeoutMS:  sv.s.DrainTimeout.Milliseconds(),
		UpgradeGraceMS:  sv.s.UpgradeGrace.Milliseconds(),
	}
	st.Socket.Systemd = sv.keepSocket
	st.Supervisor.Binary, _ = os.Executable()
	st.Supervisor.Dir, _ = os.Getwd()
	if sv.pf != nil {
		st.Supervisor.Pidfile = sv.pf.path
	}
	if sv.ctl != nil {
		st.Supervisor.Control = sv.ctl.path
	}
	account, group := userName(os.Geteuid()), groupName(os.Getegid())
	if sv.cred != nil {
		account, group = sv.cred.user, sv.cred.group
	}
	st.Servers = []control.Server{}
	for i, c := range v.servers {
		st.Servers = append(st.Servers, control.Server{
			PID: c.cmd.Process.Pid, Role: v.roles[i], Started: c.started,
			User: account, Group: group, Stats: v.stats[i], StatsAt: v.statsAt[i],
		})
	}
	return st
}

// mode says who started the supervisor and so who may stop it.
func (sv *supervisor) mode() string {
	switch {
	case sv.keepSocket || os.Getenv("NOTIFY_SOCKET") != "":
		return control.ModeSystemd
	case sv.cfg.Foreground:
		return control.ModeForeground
	}
	return control.ModeDaemon
}

// socketStatus describes the public socket as the file system shows it.
func socketStatus(path string) control.Socket {
	s := control.Socket{Path: path}
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		s.Error = (&os.PathError{Op: "stat", Path: path, Err: err}).Error()
		return s
	}
	kind := "-"
	if st.Mode&syscall.S_IFMT == syscall.S_IFSOCK {
		kind = "s"
	}
	s.Mode = kind + fs.FileMode(st.Mode & 0o777).String()[1:]
	s.UID, s.GID = int(st.Uid), int(st.Gid)
	s.Owner, s.Group = userName(int(st.Uid)), groupName(int(st.Gid))
	return s
}

func userName(uid int) string  { return account.UserName(uint32(uid)) }
func groupName(gid int) string { return account.GroupName(uint32(gid)) }
