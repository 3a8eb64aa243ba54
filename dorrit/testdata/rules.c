/*
 * rules.c - a server that exercises every call of the C API for the tests
 * in capi_test.go. Each message names what to do; anything else is echoed.
 *
 *	open:   refused when the sub-protocol is "refuse"; with "first=1" in
 *	        the cookie it speaks first: "hello cookie=<c> host=<h>
 *	        protocol=<p>".
 *	fill    ws_write_conn with len 0 and -5 (expects -2), with invalid
 *	        UTF-8 (expects -3), then 60000-byte
 *	        messages until -1; "report" later answers the figures.
 *	bye     queues "one" and "two", then ws_close_conn(conn, 0).
 *	kill    queues 100 messages of 60000 bytes, then ws_close_conn(conn, 1).
 *	big     writes one message of 1000 bytes.
 *	ticks   subscribes to the periodic function (every second).
 *	segv    writes through a NULL pointer: the crash lifecycle restarts.
 *	count   answers "opens=<n> closes=<n> inits=<n>", not counting the
 *	        connections that asked for counts.
 *
 * It aborts (a crash the test sees) when a callback breaks the API's
 * promises: a read buffer without its zero byte, a callback for a
 * connection that is not open, a second close callback, a callback on
 * another thread.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dorrit.h>

#ifndef RULES_NAME
#define RULES_NAME "rules"
#endif
#define MAXCONN 256

static void *open_conns[MAXCONN];
static int probe[MAXCONN]; /* open_conns[i] asked for counts */
static int probes, probes_closed;
static void *subscribers[MAXCONN];
static int opens, closes, inits, ticks;
static int fill_empty = 1, fill_negative = 1, fill_invalid = 1, fill_queued, fill_full = 1;
static int *volatile crash_here; /* NULL */
static pthread_t callback_thread;
static int have_thread;

static void same_thread(const char *where)
{
	if (!have_thread) {
		callback_thread = pthread_self();
		have_thread = 1;
	} else if (!pthread_equal(callback_thread, pthread_self())) {
		fprintf(stderr, "rules: %s on another thread\n", where);
		abort();
	}
}

static int slot(void **set, void *conn)
{
	for (int i = 0; i < MAXCONN; i++)
		if (set[i] == conn)
			return i;
	return -1;
}

static void reply(void *conn, const char *s)
{
	if (ws_write_conn(conn, (int)strlen(s), (char *)s) != 0)
		ws_close_conn(conn, 1);
}

static void tick()
{
	char msg[64];

	same_thread("periodic");
	ticks++;
	snprintf(msg, sizeof msg, "tick %d", ticks);
	for (int i = 0; i < MAXCONN; i++)
		if (subscribers[i])
			reply(subscribers[i], msg);
}

void ws_init_func()
{
	same_thread("ws_init_func");
	inits++;
	ws_set_name(RULES_NAME);
	ws_set_periodic(tick, 1);
	ws_set_protocols("chat, refuse");
	fprintf(stderr, "rules: init uid=%d config=%s\n", (int)getuid(),
	    ws_config_file ? ws_config_file : "(null)");
}

int ws_open_callback(void *conn, char *cookie, char *hostname, char *protocol)
{
	int i;

	same_thread("ws_open_callback");
	if (strcmp(protocol, "refuse") == 0)
		return 1;
	if (strstr(cookie, "first=1") != NULL) {
		char msg[512];
		snprintf(msg, sizeof msg, "hello cookie=%s host=%s protocol=%s",
		    cookie, hostname, protocol);
		reply(conn, msg);
	}
	if ((i = slot(open_conns, NULL)) < 0)
		return 1;
	open_conns[i] = conn;
	opens++;
	return 0;
}

static void fill(void *conn)
{
	static char big[60000];

	memset(big, 'f', sizeof big);
	fill_empty = ws_write_conn(conn, 0, big);
	fill_negative = ws_write_conn(conn, -5, big);
	fill_invalid = ws_write_conn(conn, 2, "\xff\xfe");
	fill_queued = 0;
	while ((fill_full = ws_write_conn(conn, sizeof big, big)) == 0)
		if (++fill_queued >= 1000)
			break; /* never -1: the report says so */
}

void ws_read_callback(void *conn, int len, char *buf)
{
	char msg[256];

	same_thread("ws_read_callback");
	if (slot(open_conns, conn) < 0) {
		fprintf(stderr, "rules: read callback for a connection that is not open\n");
		abort();
	}
	if (buf[len] != '\0') {
		fprintf(stderr, "rules: read buffer not zero-terminated\n");
		abort();
	}
	if (strcmp(buf, "fill") == 0) {
		fill(conn);
	} else if (strcmp(buf, "report") == 0) {
		snprintf(msg, sizeof msg, "empty=%d negative=%d invalid=%d queued=%d full=%d",
		    fill_empty, fill_negative, fill_invalid, fill_queued, fill_full);
		reply(conn, msg);
	} else if (strcmp(buf, "bye") == 0) {
		reply(conn, "one");
		reply(conn, "two");
		ws_close_conn(conn, 0);
	} else if (strcmp(buf, "kill") == 0) {
		static char big[60000];
		memset(big, 'k', sizeof big);
		for (int i = 0; i < 100; i++)
			if (ws_write_conn(conn, sizeof big, big) != 0)
				break;
		ws_close_conn(conn, 1);
	} else if (strcmp(buf, "big") == 0) {
		char big[1000];
		memset(big, 'b', sizeof big);
		if (ws_write_conn(conn, sizeof big, big) != 0)
			ws_close_conn(conn, 1);
	} else if (strcmp(buf, "ticks") == 0) {
		int i = slot(subscribers, NULL);
		if (i >= 0)
			subscribers[i] = conn;
		reply(conn, "subscribed");
	} else if (strcmp(buf, "segv") == 0) {
		*(volatile int *)crash_here = 1;
	} else if (strcmp(buf, "count") == 0) {
		int i = slot(open_conns, conn);
		if (!probe[i]) {
			probe[i] = 1;
			probes++;
		}
		snprintf(msg, sizeof msg, "opens=%d closes=%d inits=%d",
		    opens - probes, closes - probes_closed, inits);
		reply(conn, msg);
	} else if (len > 0) {
		if (ws_write_conn(conn, len, buf) == -1)
			ws_close_conn(conn, 1);
	}
}

void ws_close_callback(void *conn)
{
	int i;

	same_thread("ws_close_callback");
	if ((i = slot(open_conns, conn)) < 0) {
		fprintf(stderr, "rules: close callback for a connection that is not open (twice?)\n");
		abort();
	}
	open_conns[i] = NULL;
	if (probe[i]) {
		probe[i] = 0;
		probes_closed++;
	}
	if ((i = slot(subscribers, conn)) >= 0)
		subscribers[i] = NULL;
	closes++;
	fprintf(stderr, "rules: closed opens=%d closes=%d\n", opens - probes,
	    closes - probes_closed);
}
