//go:build libdorrit && cgo && (linux || freebsd)

// Command dorrit is libdorrit, the manual's C API (libdorrit(8)), built
// from package dorrit and package lifecycle as a C archive:
//
//	go build -tags libdorrit -buildmode=c-archive -o libdorrit.a ./dorrit
//	cc echo.c -I. -L. -ldorrit -lpthread
//
// (make libdorrit; make install PREFIX=/usr/local installs dorrit.h,
// libdorrit.a and dorrit.pc). dorrit.h is the API. The library supplies
// main: it runs lifecycle.Run with the manual's flags, and calls the
// server's four functions (ws_init_func, ws_open_callback,
// ws_read_callback, ws_close_callback) one at a time on one locked OS
// thread, because C code written to the manual is not thread-safe.
//
// The package only makes sense as a C archive, so its files need the build
// tag libdorrit: go install ./... and go build ./... leave it out (linked
// as a program, it would only list the C functions it misses). It needs
// cgo too, and its files are excluded without it (GOOS=freebsd go vet
// with CGO_ENABLED=0). Its tests need no tag: they build the archive.
package main
