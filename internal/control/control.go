// Package control is the protocol between a lifecycle supervisor and
// dorritctl: one JSON request line and one JSON answer line over the
// supervisor's control socket, <PidDir>/<name>.ctl.
//
//	→ {"version":1,"cmd":"status"}
//	← {"version":1,"status":{"name":"echo","supervisor":{"pid":812,…},…}}
//	← {"version":1,"error":"unknown command \"stat\": this server knows status"}
//
// The socket is mode 0700 and belongs to the account that started the
// server (root, for a service), and the supervisor answers that account
// and root only (peer credentials), so neither the front server, which
// shares the public socket's group, nor the server processes, which run as
// -u/-g, can read it. It only reports: stopping and upgrading stay with
// the signals (SIGTERM, SIGHUP) that rc.d and systemd send.
//
// A version tells whether the other side speaks this protocol: fields are
// only ever added within a version, so an older dorritctl reads a newer
// server's answer and ignores what it does not know; a change that would
// mislead an older reader gets a new version number.
package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"time"

	"github.com/dorritgo/dorrit"
)

// Version is the protocol version this package speaks.
const Version = 1

// Suffix names a control socket: <PidDir>/<name>.ctl, beside <name>.pid.
const Suffix = ".ctl"

// MaxRequest bounds a request line; a status request is a few dozen bytes.
const MaxRequest = 4 << 10

// maxAnswer bounds an answer line read by Ask.
const maxAnswer = 4 << 20

// Path is the control socket of the server named name whose pidfile goes
// to dir.
func Path(dir, name string) string { return filepath.Join(dir, name+Suffix) }

// Request is one request line.
type Request struct {
	Version int    `json:"version"`
	Cmd     string `json:"cmd"` // "status"
}

// Answer is one answer line: Error, or what the command asked for.
type Answer struct {
	Version int     `json:"version"`
	Error   string  `json:"error,omitempty"`
	Status  *Status `json:"status,omitempty"`
}

// Status is the answer to "status".
type Status struct {
	Name string `json:"name"`
	// Mode is "daemon" (detached, with a pidfile), "foreground" (-x) or
	// "systemd" (started by systemd, which stops and restarts it).
	Mode       string     `json:"mode"`
	Now        time.Time  `json:"now"` // the supervisor's clock when it answered
	Supervisor Supervisor `json:"supervisor"`
	Socket     Socket     `json:"socket"`

	// Servers are the server processes: the one serving first, then any
	// replaced by an upgrade that still drain their connections.
	Servers []Server `json:"servers"`

	// Total sums the figures of every server process since the supervisor
	// started: those running, and those that ended (crashed, replaced,
	// restarted) as of their last heartbeat. Live, Handshaking and
	// QueuedBytes count the running ones only.
	Total dorrit.Stats `json:"total"`

	Crashes         int      `json:"crashes"`          // server processes that died unasked
	CrashRestarts   int      `json:"crash_restarts"`   // server processes started after a crash
	Upgrades        int      `json:"upgrades"`         // SIGHUP upgrades that succeeded
	UpgradeAttempts int      `json:"upgrade_attempts"` // SIGHUPs acted on, failed ones included
	LastUpgrade     *Upgrade `json:"last_upgrade,omitempty"`

	Stopping       bool  `json:"stopping"` // SIGTERM received: draining
	DrainTimeoutMS int64 `json:"drain_timeout_ms"`
	UpgradeGraceMS int64 `json:"upgrade_grace_ms"`
}

// Supervisor is the process that keeps the socket and runs the server
// processes; its PID is the pidfile's.
type Supervisor struct {
	PID     int       `json:"pid"`
	User    string    `json:"user"` // the starting account, which owns the control socket
	Started time.Time `json:"started"`
	Binary  string    `json:"binary"` // the executable's absolute path
	Args    []string  `json:"args"`   // its command line, without the program name
	Dir     string    `json:"dir"`    // working directory at start (relative -f and -l paths)
	Pidfile string    `json:"pidfile,omitempty"`
	Control string    `json:"control"`
}

// Socket is the public socket, as the file system shows it now.
type Socket struct {
	Path  string `json:"path"`
	Mode  string `json:"mode,omitempty"` // as ls writes it: srwxrwx---
	Owner string `json:"owner,omitempty"`
	Group string `json:"group,omitempty"`
	UID   int    `json:"uid"`
	GID   int    `json:"gid"`
	// Error says why the file could not be examined (removed by hand, say).
	Error string `json:"error,omitempty"`
	// Systemd is set when systemd created the socket (socket activation).
	Systemd bool `json:"systemd,omitempty"`
}

// Server is one server process.
type Server struct {
	PID     int       `json:"pid"`
	Role    string    `json:"role"` // "serving" or "draining"
	Started time.Time `json:"started"`
	User    string    `json:"user"`
	Group   string    `json:"group"`
	// Stats are its listener's figures (dorrit.Stats, field names as in
	// Go), from a heartbeat asked for with this status, or the latest one
	// (StatsAt says when); nil until the first heartbeat arrives.
	Stats   *dorrit.Stats `json:"stats"`
	StatsAt time.Time     `json:"stats_at"`
}

// Upgrade is the outcome of one SIGHUP.
type Upgrade struct {
	At     time.Time `json:"at"`
	OK     bool      `json:"ok"`
	Error  string    `json:"error,omitempty"`
	OldPID int       `json:"old_pid"`
	NewPID int       `json:"new_pid,omitempty"`
}

// Serving is the server process that accepts connections, or nil.
func (s *Status) Serving() *Server {
	for i := range s.Servers {
		if s.Servers[i].Role == RoleServing {
			return &s.Servers[i]
		}
	}
	return nil
}

// Server roles.
const (
	RoleServing  = "serving"
	RoleDraining = "draining"
)

// Modes.
const (
	ModeDaemon     = "daemon"
	ModeForeground = "foreground"
	ModeSystemd    = "systemd"
)

// ErrRefused is an error answer from the supervisor.
var ErrRefused = errors.New("control: the server refused the request")

// Ask sends cmd to the control socket at path and returns the status it
// answers. Errors from the connection keep their cause (errors.Is with
// syscall.ENOENT, ECONNREFUSED, EACCES); without a deadline in ctx, the
// exchange is bounded by 5 s.
func Ask(ctx context.Context, path, cmd string) (*Status, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	deadline, _ := ctx.Deadline()
	c.SetDeadline(deadline)
	req, _ := json.Marshal(Request{Version: Version, Cmd: cmd})
	if _, err := c.Write(append(req, '\n')); err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(c, 64<<10)
	line, err := readLine(br, maxAnswer)
	if err != nil {
		if errors.Is(err, net.ErrClosed) || errors.Is(err, errEmpty) {
			return nil, fmt.Errorf("the control socket %s closed without an answer (only root and the account that started the server are answered)", path)
		}
		return nil, fmt.Errorf("reading the answer from %s: %w", path, err)
	}
	var a Answer
	if err := json.Unmarshal(line, &a); err != nil {
		return nil, fmt.Errorf("%s answered something that is not a control answer: %v", path, err)
	}
	if a.Version != Version {
		return nil, fmt.Errorf("%s speaks control protocol version %d, this program version %d: use the dorritctl of the dorrit version the server was built with", path, a.Version, Version)
	}
	if a.Error != "" {
		return nil, fmt.Errorf("%w: %s", ErrRefused, a.Error)
	}
	if a.Status == nil {
		return nil, fmt.Errorf("%s answered without a status", path)
	}
	return a.Status, nil
}

var errEmpty = errors.New("no line")

// ReadRequest reads one request line of at most MaxRequest bytes.
func ReadRequest(br *bufio.Reader) (Request, error) {
	var r Request
	line, err := readLine(br, MaxRequest)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(line, &r); err != nil {
		return r, fmt.Errorf("not a control request (one JSON object on a line, e.g. {\"version\":%d,\"cmd\":\"status\"}): %v", Version, err)
	}
	return r, nil
}

// readLine reads up to a newline (or the end of the stream), at most max
// bytes.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > max {
			return nil, fmt.Errorf("line longer than %d bytes", max)
		}
		switch {
		case err == nil:
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(line) > 0:
			return line, nil
		case errors.Is(err, io.EOF):
			return nil, errEmpty
		default:
			return nil, err
		}
	}
}
