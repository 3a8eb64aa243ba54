package dorrit

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/dorritgo/dorrit/internal/unixsocket"
)

// Defaults taken from the libdorrit manual, so that a server moved from C keeps its limits.
const (
	DefaultName             = "server"
	DefaultBufferSize       = 65540
	MinBufferSize           = 10
	MaxBufferSize           = 65540
	DefaultMaxConns         = 2000
	DefaultSocketMode       = 0o770
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultPingInterval     = 30 * time.Second

	// DefaultMaxQueueBytes is the queue budget when Options.MaxQueueBytes
	// is 0: enough for 2000 clients to each have 128 KiB in flight, or 20
	// slow readers their full 200 frames of 64 KiB.
	DefaultMaxQueueBytes = 256 << 20

	// MaxQueuedFrames is how many outgoing frames may wait on one connection.
	MaxQueuedFrames = 200

	// bufferOverhead is what the manual reserves of BufferSize beyond the payload:
	// 4 header bytes and a zero terminator.
	bufferOverhead = 5
)

// Options configure a Listener. The zero value is usable: it listens on
// /var/run/dorrit.socket with the manual's limits.
type Options struct {
	// Name names the server (syslog ident and pidfile in package lifecycle)
	// and, when Path is empty, the socket: /var/run/<Name>.socket.
	// When Name is empty the socket is /var/run/dorrit.socket.
	Name string

	// Path is the UNIX-domain socket to create. A stale socket file left by a
	// dead server is replaced; a file that is not a socket, or a socket
	// another server still answers on, is an error.
	Path string

	// BufferSize bounds every incoming frame and message to BufferSize-5
	// payload bytes, and is the fragment size for outgoing messages.
	// Valid: 10..65540; 0 means 65540.
	BufferSize int

	// MaxConns is how many upgraded connections may be open at once; the next
	// handshake is answered 503 with Retry-After. 0 means 2000.
	// Twice as many handshakes may be in progress (a request not yet
	// complete, or Authorize running), and at least 64: a connection beyond
	// that is answered 503 with Retry-After at once, before its request is
	// read.
	MaxConns int

	// Subprotocols the server speaks, in order of preference. The first one
	// the client also offers is chosen; none is chosen when there is no match.
	// Names are compared exactly, case included (RFC 6455): a client offering
	// "Chat" is not answered "chat", because browsers fail a connection whose
	// answer is not one of their offers.
	Subprotocols []string

	// OriginPatterns are host patterns (path.Match syntax, e.g.
	// "*.example.com") whose Origin is accepted besides the request's own
	// Host. Requests without an Origin header (non-browser clients) are
	// always accepted. A browser's cross-site request is refused with 403
	// unless its origin host matches, which stops cross-site WebSocket
	// hijacking with cookies. Matching ignores case. A pattern without a ':'
	// matches the origin's host name on any port ("example.com" accepts
	// https://example.com:8443); a pattern with a ':' matches host:port
	// ("example.com:8443", or "example.com:*" for any port given
	// explicitly; neither matches an origin without a port). An Origin
	// equal to the request's Host, port included, is always accepted.
	OriginPatterns []string

	// Authorize, when set, runs on the forwarded upgrade request before the
	// 101 answer. A non-nil error refuses the connection with 403 and the
	// error's text; nothing is upgraded. Otherwise the value it returns
	// (the user the session cookie names, say) is the connection's Value,
	// so the application need not parse the request a second time.
	//
	// Authorize is bounded by HandshakeTimeout. It runs on a goroutine of
	// its own, concurrently with other handshakes' calls. r.Context() ends
	// at the handshake deadline (HandshakeTimeout after the connection was
	// accepted). An answer counts only when Authorize returns before that
	// deadline; otherwise the client is answered 503 with Retry-After
	// (counted in Stats.Refused.Timeout), nothing is upgraded, and the call
	// is left running until it returns, its answer ignored. So a hook that
	// waits (a session store, a remote check) should give up when
	// r.Context() is done, or each hanging call keeps a goroutine. r.Body is
	// empty (http.NoBody). r.Header becomes the connection's Header(), so
	// Authorize should not change it, nor leave goroutines behind that read it.
	Authorize func(r *http.Request) (any, error)

	// HandshakeTimeout bounds reading the upgrade request and Authorize,
	// and writing a refusal. (The 101 leaves once the application has the
	// connection: see Listener.Accept.) 0 means 10s.
	HandshakeTimeout time.Duration

	// SocketUser and SocketGroup, when set, own the socket file (names or
	// numeric IDs). Changing them needs root.
	SocketUser, SocketGroup string

	// PeerUsers and PeerGroups, when either is set, admit only the
	// processes that run as one of these users, or with one of these
	// groups as their group (names or numeric IDs), as the kernel reports
	// the connecting process (SO_PEERCRED: its effective uid and gid when it
	// connected; supplementary groups are not seen). Any other peer gets
	// 403 before a byte of its request is read (Stats.Refused.Peer). Use it
	// to let only the front server's account in (PeerUsers: {"www-data"})
	// where the socket's group is wider than that. root is not implied.
	PeerUsers, PeerGroups []string

	// SocketMode is the socket file's permission bits; 0 means 0770 (srwxrwx---).
	SocketMode os.FileMode

	// MaxQueueBytes bounds the data bytes all connections' queues may hold
	// together. Past it, Write returns ErrQueueFull to the connections that
	// hold more than their share (MaxQueueBytes / connections open): slow
	// readers are held back, clients that keep up are not. 0 means
	// DefaultMaxQueueBytes (package lifecycle lowers it to a quarter of the
	// machine's memory on a small machine); negative means
	// no bound beyond the 200 frames per connection. Without it, 500
	// clients that never read held 6.2 GB.
	MaxQueueBytes int64

	// PingInterval is how long a client may stay silent before the server
	// pings it; 0 means 30 s, negative disables keepalive. The pings keep
	// idle connections open through a front server's read timeout (nginx:
	// proxy_read_timeout, 60 s by default) and let a vanished client (no
	// FIN through the front server) be noticed. Any byte from the client
	// counts as an answer. One sweep per listener does the work; an idle
	// connection holds no timer.
	PingInterval time.Duration

	// PongTimeout is how long a pinged client has to answer before the
	// connection is closed with 1001 (Stats.Dropped.PongTimeout); 0 means
	// PingInterval. A client whose bytes wait unread because the handler
	// has stopped reading is not dropped.
	PongTimeout time.Duration

	// Listener, when set, is adopted instead of creating a socket: an
	// inherited *net.UnixListener (re-exec, systemd socket activation).
	// dorrit never unlinks the file of an adopted listener.
	Listener net.Listener
}

// maxPayload is the largest payload of a message or fragment with these options.
func (o Options) maxPayload() int {
	if o.BufferSize == 0 {
		return DefaultBufferSize - bufferOverhead
	}
	return o.BufferSize - bufferOverhead
}

// Validate reports what Listen would refuse in o (an error matching
// ErrInvalidOptions) without creating anything, so that a daemon can check
// its configuration before it starts; users and groups are looked up only
// by Listen.
func (o Options) Validate() error {
	_, err := o.withDefaults()
	return err
}

// withDefaults checks o and fills in the defaults.
func (o Options) withDefaults() (Options, error) {
	if o.BufferSize == 0 {
		o.BufferSize = DefaultBufferSize
	}
	if o.BufferSize < MinBufferSize || o.BufferSize > MaxBufferSize {
		return o, fmt.Errorf("%w: BufferSize %d is outside %d..%d (the largest payload is BufferSize-5 bytes)",
			ErrInvalidOptions, o.BufferSize, MinBufferSize, MaxBufferSize)
	}
	if o.MaxConns == 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.MaxConns < 0 {
		return o, fmt.Errorf("%w: MaxConns %d is negative; use a positive limit (default %d)",
			ErrInvalidOptions, o.MaxConns, DefaultMaxConns)
	}
	if o.HandshakeTimeout == 0 {
		o.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if o.HandshakeTimeout < 0 {
		return o, fmt.Errorf("%w: HandshakeTimeout %v is negative", ErrInvalidOptions, o.HandshakeTimeout)
	}
	if o.MaxQueueBytes == 0 {
		o.MaxQueueBytes = DefaultMaxQueueBytes
	}
	if o.PingInterval == 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.PongTimeout == 0 {
		o.PongTimeout = o.PingInterval
	}
	if o.PingInterval > 0 && o.PongTimeout < 0 {
		return o, fmt.Errorf("%w: PongTimeout %v is negative; use 0 for PingInterval (%v)",
			ErrInvalidOptions, o.PongTimeout, o.PingInterval)
	}
	if o.SocketMode == 0 {
		o.SocketMode = DefaultSocketMode
	}
	if o.SocketMode&^os.ModePerm != 0 {
		return o, fmt.Errorf("%w: SocketMode %v has bits beyond the permission bits 0777", ErrInvalidOptions, o.SocketMode)
	}
	if o.Path == "" && o.Listener == nil {
		o.Path = unixsocket.DefaultPath(o.Name)
	}
	if o.Name == "" {
		o.Name = DefaultName
	}
	return o, nil
}
