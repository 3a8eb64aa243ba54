/* missing.c - a server that forgot ws_close_callback: it links, and stops
 * at start with a message naming what is missing. */
#include <dorrit.h>

void ws_init_func() {}
int ws_open_callback(void *c, char *cookie, char *host, char *protocol)
{
	(void)c;
	(void)cookie;
	(void)host;
	(void)protocol;
	return 0;
}
void ws_read_callback(void *c, int len, char *buf)
{
	ws_write_conn(c, len, buf);
}
