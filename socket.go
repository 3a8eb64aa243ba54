package dorrit

import (
	"errors"
	"fmt"
	"net"

	"github.com/dorritgo/dorrit/internal/unixsocket"
)

// createSocket makes the listening socket at o.Path as the manual says: a
// stale socket file is replaced, the file gets o.SocketMode and is handed to
// o.SocketUser / o.SocketGroup.
func createSocket(o Options) (*net.UnixListener, *unixsocket.File, error) {
	ul, f, err := unixsocket.Create(unixsocket.Spec{Path: o.Path, Mode: o.SocketMode, User: o.SocketUser, Group: o.SocketGroup})
	return ul, f, invalidOptions(err)
}

// invalidOptions makes the socket's configuration errors match ErrInvalidOptions.
func invalidOptions(err error) error {
	var ce *unixsocket.ConfigError
	if errors.As(err, &ce) {
		return fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	return err
}

// adoptListener checks an inherited listener: dorrit serves stream
// UNIX-domain sockets only.
func adoptListener(l net.Listener) (*net.UnixListener, error) {
	ul, ok := l.(*net.UnixListener)
	if !ok {
		return nil, fmt.Errorf("%w: Options.Listener is a %T listening on %s %s; dorrit serves UNIX-domain stream sockets only",
			ErrInvalidOptions, l, l.Addr().Network(), l.Addr())
	}
	if n := ul.Addr().Network(); n != "unix" {
		return nil, fmt.Errorf("%w: Options.Listener is a %q socket; dorrit needs a stream socket (\"unix\")", ErrInvalidOptions, n)
	}
	ul.SetUnlinkOnClose(false)
	return ul, nil
}
