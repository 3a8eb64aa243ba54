package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/dorritgo/dorrit"
	"github.com/dorritgo/dorrit/internal/unixsocket"
)

// start is the process the user (or rc.d, or systemd) started.
func start(ctx context.Context, s *Server, cfg *Config) error {
	cfg.Logger = stderrLogger(s.Name)
	stayForSystemd(s, cfg)
	if s.Init != nil {
		if err := s.Init(cfg); err != nil {
			return fmt.Errorf("init: %w", err)
		}
	}
	noteDashH(s, cfg)

	var cred *credentials
	if os.Geteuid() == 0 {
		c, err := lookupCredentials(cfg.User, cfg.Group)
		if err != nil {
			return err
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
			return err
		}
	}

	ul, fromSystemd, err := listenerFor(cfg, cred)
	if err != nil {
		if pf != nil {
			pf.remove()
		}
		return err
	}
	sv := &supervisor{ctx: ctx, s: s, cfg: cfg, cred: cred, ul: ul, keepSocket: fromSystemd}
	if cfg.Foreground {
		return sv.run(nil)
	}
	if err := probeSyslog(s); err != nil {
		fmt.Fprintf(os.Stderr, "%s: warning: no syslog (%v): the daemon holds its last %d log lines and sends them once syslog answers; start a syslog daemon, or use -x under a supervisor that keeps stderr\n", s.Name, err, heldMax)
	}
	return detach(s, cfg, ul, pf)
}

// noteDashH tells a user who typed -h for help, on the terminal and before
// the server detaches, that it started a server: -h is the manual's
// humdinger flag, which changes nothing here. Said once, by the process
// the user started (after Init, so that a run that stops in Init to parse
// the command line alone says nothing).
func noteDashH(s *Server, cfg *Config) {
	if cfg.dashH {
		fmt.Fprintf(os.Stderr, "%s: -h changes nothing: it chose the original manual's humdinger front server, and dorrit reads the standard forwarded upgrade from every front server; the server starts as usual. -help lists the flags\n", s.Name)
	}
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
	if err := o.Validate(); err != nil {
		return nil, false, err
	}
	ul, err = unixsocket.Listen(socketSpec(o))
	return ul, false, err
}

// socketSpec is the socket file o describes, with dorrit.Listen's defaults
// for what o leaves empty.
func socketSpec(o dorrit.Options) unixsocket.Spec {
	s := unixsocket.Spec{Path: o.Path, Mode: o.SocketMode, User: o.SocketUser, Group: o.SocketGroup}
	if s.Path == "" {
		s.Path = unixsocket.DefaultPath(o.Name)
	}
	if s.Mode == 0 {
		s.Mode = dorrit.DefaultSocketMode
	}
	return s
}

// detach re-executes the binary as a daemon in a new session with stdio on
// /dev/null, hands it the socket and the locked pidfile, and returns once it
// reports that a server accepts connections, or with its start-up error.
// Until the daemon has started, a failure removes the socket and the
// pidfile here; from then on the daemon does, before it reports.
func detach(s *Server, cfg *Config, ul *net.UnixListener, pf *pidfile) error {
	fail := func(err error) error {
		ul.Close() // unlinks the socket file
		if pf != nil {
			pf.remove()
		}
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fail(fmt.Errorf("cannot find my own executable to detach: %v", err))
	}
	lf, err := listenerFile(ul)
	if err != nil {
		return fail(fmt.Errorf("cannot pass the socket on: %v", err))
	}
	defer lf.Close()
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return fail(err)
	}
	defer readyR.Close()
	defer readyW.Close()
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return fail(err)
	}
	defer devnull.Close()
	// os.Args as they were, so that a main that dispatches on them reaches
	// Run again; the stage parses the args Run was given.
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Env = stageEnviron(stageSupervise, cfg.args)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	cmd.ExtraFiles = []*os.File{lf, readyW}
	if pf != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, pf.f)
		cmd.Env = append(cmd.Env, pidfileEnv+"="+pf.path)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fail(fmt.Errorf("cannot detach: %v", err))
	}
	readyW.Close()
	ul.SetUnlinkOnClose(false) // the daemon owns the socket file now
	ul.Close()
	if pf != nil {
		pf.f.Close() // the daemon's copy keeps the lock
	}
	// The daemon stays a child of this process, which may go on running
	// after Run returns: reaped when it ends, it leaves no zombie.
	go cmd.Wait()

	if err := readReport(readyR); !errors.Is(err, errNoReport) {
		return err // nil: the daemon accepts
	}
	return fmt.Errorf("the daemon ended during start-up (see syslog for %s)", s.Name)
}
