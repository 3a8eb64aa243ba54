package lifecycle

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/dorritgo/dorrit"
)

// start is the process the user (or rc.d, or systemd) started.
func start(s *Server, cfg *Config) int {
	cfg.Logger = stderrLogger(s.Name)
	if s.Init != nil {
		if err := s.Init(cfg); err != nil {
			return fail(s, "init: %v", err)
		}
	}

	var cred *credentials
	if os.Geteuid() == 0 {
		c, err := lookupCredentials(cfg.User, cfg.Group)
		if err != nil {
			return fail(s, "%v", err)
		}
		if c.groupFellBack {
			fmt.Fprintf(os.Stderr, "%s: no group \"nobody\" on this system: running as group %s, the primary group of %s (give -g to choose)\n", s.Name, c.group, c.user)
		}
		cred = c
	} else if cfg.User != "nobody" || cfg.Group != "" {
		fmt.Fprintf(os.Stderr, "%s: not started as root: -u/-g ignored, running as %d:%d\n", s.Name, os.Getuid(), os.Getgid())
	}

	var pf *pidfile
	if os.Geteuid() == 0 && !cfg.Foreground {
		var err error
		if pf, err = lockPidfile(filepath.Join(s.PidDir, s.Name+".pid")); err != nil {
			return fail(s, "%v", err)
		}
	}

	ul, fromSystemd, err := listenerFor(cfg, cred)
	if err != nil {
		if pf != nil {
			pf.remove()
		}
		return fail(s, "%v", err)
	}
	sv := &supervisor{s: s, cfg: cfg, cred: cred, ul: ul, keepSocket: fromSystemd}
	if cfg.Foreground {
		return sv.run(nil)
	}
	if w, err := dialSyslog(s); err != nil {
		fmt.Fprintf(os.Stderr, "%s: warning: no syslog (%v): a detached server's log is lost; run a syslog daemon, or use -x under a supervisor that keeps stderr\n", s.Name, err)
	} else {
		w.Close()
	}
	return detach(s, cfg, ul, pf)
}

// listenerFor creates the socket as root and hands it to the server's
// account, or adopts the one systemd passed.
func listenerFor(cfg *Config, cred *credentials) (ul *net.UnixListener, fromSystemd bool, err error) {
	if l, err := systemdListener(); l != nil || err != nil {
		return l, true, err
	}
	o := cfg.Options
	if cred != nil && o.SocketUser == "" {
		o.SocketUser = strconv.Itoa(int(cred.uid))
	}
	if cred != nil && o.SocketGroup == "" {
		o.SocketGroup = strconv.Itoa(int(cred.gid))
	}
	ul, err = dorrit.ListenSocket(o)
	return ul, false, err
}

// detach re-executes the binary as a daemon in a new session with stdio on
// /dev/null, hands it the socket and the locked pidfile, and returns once it
// reports that a server accepts connections, or with its start-up error.
func detach(s *Server, cfg *Config, ul *net.UnixListener, pf *pidfile) int {
	lf, err := listenerFile(ul)
	if err != nil {
		return fail(s, "cannot pass the socket on: %v", err)
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return fail(s, "%v", err)
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return fail(s, "%v", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return fail(s, "cannot find my own executable to detach: %v", err)
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Env = append(os.Environ(), stageEnv+"="+stageSupervise)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	cmd.ExtraFiles = []*os.File{lf, readyW}
	if pf != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, pf.f)
		cmd.Env = append(cmd.Env, pidfileEnv+"="+pf.path)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fail(s, "cannot detach: %v", err)
	}
	readyW.Close()
	lf.Close()
	ul.SetUnlinkOnClose(false) // the daemon owns the socket file now
	ul.Close()
	if pf != nil {
		pf.f.Close() // the daemon's copy keeps the lock
	}
	cmd.Process.Release()

	line, err := bufio.NewReader(readyR).ReadString('\n')
	if err != nil {
		return fail(s, "the daemon ended during start-up (see syslog for %s)", s.Name)
	}
	if msg, ok := strings.CutPrefix(strings.TrimSpace(line), "ERROR "); ok {
		return fail(s, "%s", msg)
	}
	return 0
}
