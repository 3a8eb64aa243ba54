package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/dorritgo/dorrit/internal/unixsocket"
)

// socketPath turns a NAME|SOCKET operand into a socket path. A NAME (no
// slash) is /var/run/NAME.socket, the default socket of a server named
// NAME, unless a socket of that name is in the current directory.
func socketPath(arg string) string {
	if strings.ContainsRune(arg, '/') {
		return arg
	}
	if fi, err := os.Lstat(arg); err == nil && fi.Mode().Type() == os.ModeSocket {
		return "./" + arg
	}
	return unixsocket.DefaultPath(arg)
}

// nameOf guesses the server's name from its socket, for messages:
// /run/echo.socket is echo's.
func nameOf(socket string) string {
	base := filepath.Base(socket)
	if n, ok := strings.CutSuffix(base, ".socket"); ok && n != "" {
		return n
	}
	return "NAME"
}
