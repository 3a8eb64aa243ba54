/*
 * dorrit.h - the libdorrit C API (libdorrit(8)), built from the Go code of
 * github.com/dorritgo/dorrit.
 *
 *	cc server.c $(pkg-config --cflags --libs dorrit)
 *	cc server.c -I/usr/local/include -L/usr/local/lib -ldorrit -lpthread
 *
 * The library supplies the server's main(). You define the four functions
 * below (ws_init_func, ws_open_callback, ws_read_callback,
 * ws_close_callback); a server that lacks one of them links, and then stops
 * at start with a message naming the missing function.
 *
 * Namespace: every global symbol beginning with the five characters "ws_"
 * belongs to the library (its own helpers are named ws_ too). Do not define
 * any other global symbol beginning with "ws_".
 *
 * Threads: the library calls every callback (the four below and the
 * periodic function) one at a time, always on the same OS thread. Call
 * ws_write_conn and ws_close_conn only from inside a callback: the library
 * is not thread-safe for C threads of your own, just as the original.
 *
 * Processes: Go cannot fork(2), so the server runs as the same binary
 * executed again (see ws_init_func below); the command-line options
 * -b -h -l -m -u -g -x -f, the daemon, its pidfile and syslog, SIGTERM and
 * the restart after SIGSEGV/SIGBUS are those of the Go package lifecycle.
 */
#ifndef DORRIT_H
#define DORRIT_H

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Defined by you.
 */

/*
 * ws_init_func runs once at start, after the command line is parsed
 * (ws_config_file is set) and before the socket is created, privileges are
 * dropped and the server becomes a daemon: as the starting user (root, for
 * a system service), with stderr on the terminal. Call ws_set_name and
 * ws_set_periodic here.
 *
 * It runs once more in every server process, before it accepts a
 * connection: the server process is this binary executed anew (there is no
 * fork in Go), so whatever your callbacks need (globals, allocations) must
 * be made there too. That run is as the -u/-g account, with stderr sent to
 * syslog once detached; the manual's own restart after a crash (execv)
 * ran ws_init_func again the same way. ws_set_name has no effect there: the
 * name stays the one set at start.
 */
void ws_init_func(void);

/*
 * ws_open_callback runs for each new connection, once its upgrade request
 * was checked and before the client's handshake completes: the 101 leaves
 * when the connection is first read or written (a server that speaks first
 * sends it with its first message). The first argument identifies the connection until
 * ws_close_callback has returned. cookie is the client's Cookie header,
 * hostname the virtual host, protocol the negotiated sub-protocol; each is
 * "" when absent (never NULL), valid only during the call. Return 0 to
 * accept; anything else closes the connection at once, so that the client's
 * upgrade fails, and then neither ws_read_callback nor ws_close_callback runs for it. A server
 * that speaks first calls ws_write_conn here.
 */
int ws_open_callback(void *conn, char *cookie, char *hostname, char *protocol);

/*
 * ws_read_callback runs for each complete text message. buf holds len
 * bytes followed by a zero byte (not counted in len). buf belongs to the
 * connection: it is overwritten by its next message and freed after
 * ws_close_callback returns. len is at most the buffer size (-b) less 5.
 */
void ws_read_callback(void *conn, int len, char *buf);

/*
 * ws_close_callback runs exactly once for each accepted connection, when it
 * has ended: closed by the client, by ws_close_conn, by a protocol error or
 * by the server's stop (SIGTERM). After it returns the library frees the
 * connection's queue and buffer; the pointer must not be used again.
 */
void ws_close_callback(void *conn);

/*
 * Provided by the library.
 */

/* The name (default "server"): syslog ident, /var/run/<name>.pid and the
 * default socket /var/run/<name>.socket. Call it in ws_init_func. */
void ws_set_name(char *name);

/* Call func every seconds seconds (the first time seconds after the server
 * process starts), on the callbacks' thread. Call it in ws_init_func, the
 * same way in both of its runs: the interval is the one set at start, the
 * function the one set in the server process. seconds < 1 or a NULL func
 * removes the periodic function. */
void ws_set_periodic(void (*func)(), int seconds);

/*
 * Not in the manual: the sub-protocols the server speaks, comma- or
 * space-separated, in order of preference ("chat, superchat"). The first
 * one the client offers is what ws_open_callback receives as protocol;
 * with none set, or none offered, protocol is "". In the manual the front
 * server negotiated it; here the server answers the handshake itself.
 * Call it in ws_init_func; as for ws_set_name, the list set at start
 * counts.
 */
void ws_set_protocols(char *list);

/*
 * ws_write_conn copies len bytes of data (no terminator needed) into the
 * connection's queue as one text message, sent in fragments of at most the
 * buffer size less 5 bytes. It returns
 *	 0 queued;
 *	-1 not queued: 200 frames already wait (the client does not read),
 *	   the message alone needs more than 200 fragments, the queues of all
 *	   connections hold the server's limit, or the connection is closing
 *	   or unknown. There is no point going on with this connection: clean
 *	   up and call ws_close_conn;
 *	-2 len is less than 1;
 *	-3 data is not valid UTF-8, which a text message must be (a browser
 *	   drops the connection on it): nothing queued, the connection stays.
 */
int ws_write_conn(void *conn, int len, char *data);

/*
 * ws_close_conn closes the connection: at once when force is non-zero
 * (queued messages are dropped, no close frame); otherwise after the queue
 * has been sent, with close code 1000, and nothing more is read from the
 * client meanwhile. ws_close_callback follows in both cases.
 *
 * The manual prints the first argument as "int fd"; every other call of
 * the API takes the connection as the opaque pointer its callbacks
 * receive, and that pointer is what identifies a connection here, so
 * ws_close_conn takes it too. A server written to the manual passes the
 * pointer it was given.
 */
void ws_close_conn(void *conn, int force);

/* The argument of -f, or NULL without -f; set before ws_init_func runs. */
extern char *ws_config_file;

#ifdef __cplusplus
}
#endif

#endif /* DORRIT_H */
