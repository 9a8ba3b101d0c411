/* The error-message builder of util.h: validators report why they refused
 * a hostile input ("DMA region 3: ... beyond guest RAM"), and the core has
 * no snprintf in the freestanding guest. */
#include "util.h"

void csc_msg_init(struct csc_msg *m, char *buf, size_t cap)
{
	m->buf = buf;
	m->cap = buf ? cap : 0;
	m->len = 0;
	if (m->cap)
		buf[0] = '\0';
}

static void put(struct csc_msg *m, char c)
{
	if (m->len + 1 >= m->cap)
		return;
	m->buf[m->len++] = c;
	m->buf[m->len] = '\0';
}

void csc_msg_str(struct csc_msg *m, const char *s)
{
	while (*s)
		put(m, *s++);
}

void csc_msg_dec(struct csc_msg *m, uint64_t v)
{
	char tmp[20];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		put(m, tmp[--n]);
}

void csc_msg_hex(struct csc_msg *m, uint64_t v)
{
	int shift = 60;

	put(m, '0');
	put(m, 'x');
	while (shift > 0 && !(v >> shift))
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		put(m, "0123456789abcdef"[(v >> shift) & 0xf]);
}
