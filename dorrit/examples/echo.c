/*
 * echo.c - the manual's echo server in C: every text message a client
 * sends comes back to it.
 *
 *	make install PREFIX=/usr/local
 *	cc echo.c -o echo -I/usr/local/include -L/usr/local/lib -ldorrit -lpthread
 *	cc echo.c -o echo $(pkg-config --cflags --libs dorrit)
 *	./echo -x -l /tmp/echo.socket
 *
 * The library supplies main() and the command-line options -b -h -l -m -u
 * -g -x -f; started as root without -x it becomes a daemon with
 * /var/run/echo.pid, listening on /var/run/echo.socket.
 */
#include <dorrit.h>

void ws_init_func()
{
	ws_set_name("echo");
}

int ws_open_callback(void *conn, char *cookie, char *hostname, char *protocol)
{
	(void)conn;
	(void)cookie;
	(void)hostname;
	(void)protocol;
	return 0; /* accept every connection */
}

void ws_read_callback(void *conn, int len, char *buf)
{
	/* -2: an empty message cannot be sent back; skip it. -1: 200 frames
	 * wait for a client that does not read: let it go. */
	if (ws_write_conn(conn, len, buf) == -1)
		ws_close_conn(conn, 1);
}

void ws_close_callback(void *conn)
{
	(void)conn;
}
