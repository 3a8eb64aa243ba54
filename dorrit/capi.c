//go:build libdorrit && cgo && (linux || freebsd)

// The C half of libdorrit: main(), ws_config_file, and the calls into the
// four functions the server defines.
//
// Every name here begins with ws_ (or is main): the manual reserves that
// namespace for the library, so these cannot clash with a server's own
// globals.

#include <stddef.h>
#include "_cgo_export.h"

char *ws_config_file;

// Weak references: an archive link of a server that forgot one of them
// still succeeds, and ws_go_main then stops with a message naming it
// (ws_missing_callback) instead of a linker error deep in Go's objects.
// They also let the Go toolchain link this package as a program (go test,
// go build), where no server's callbacks exist.
extern void ws_init_func(void) __attribute__((weak));
extern int ws_open_callback(void *, char *, char *, char *) __attribute__((weak));
extern void ws_read_callback(void *, int, char *) __attribute__((weak));
extern void ws_close_callback(void *) __attribute__((weak));

const char *ws_missing_callback(void) {
	if (!ws_init_func) return "ws_init_func";
	if (!ws_open_callback) return "ws_open_callback";
	if (!ws_read_callback) return "ws_read_callback";
	if (!ws_close_callback) return "ws_close_callback";
	return NULL;
}

void ws_call_init(void) { ws_init_func(); }

int ws_call_open(void *c, char *cookie, char *host, char *protocol) {
	return ws_open_callback(c, cookie, host, protocol);
}

void ws_call_read(void *c, int len, char *buf) { ws_read_callback(c, len, buf); }

void ws_call_close(void *c) { ws_close_callback(c); }

void ws_call_periodic(void *f) { ((void (*)(void))f)(); }

// The library supplies the server's main, as the manual says. Weak, so
// that where the Go toolchain links this package as a program its own
// runtime entry named main wins; in libdorrit.a it is the only main.
int main(int argc, char **argv) __attribute__((weak));
int main(int argc, char **argv) {
	(void)argc;
	(void)argv; // the Go runtime has them already (os.Args)
	return ws_go_main();
}
