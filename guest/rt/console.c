/* Console output through the shared ring (common/platform_regs.h): bytes go into
 * guest memory, the doorbell costs one MMIO exit per line, not per byte. */
#include <stdarg.h>

#include "../../common/layout.h"
#include "../../common/platform_regs.h"
#include "guest/format.h"
#include "guest/rt.h"
#include "rt_internal.h"

static struct csc_console_ring *const ring = (struct csc_console_ring *)CSC_CONSOLE_RING_GPA;

static void doorbell(void)
{
	/* The VMM drains the ring while handling this exit, so once the
	 * write retires the whole ring is free again. */
	platform_write(CSC_PLAT_CONSOLE, 1);
}

void console_write(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (ring->head - ring->tail >= CSC_CONSOLE_DATA_SIZE)
			doorbell();
		ring->data[ring->head & (CSC_CONSOLE_DATA_SIZE - 1)] = s[i];
		__atomic_store_n(&ring->head, ring->head + 1, __ATOMIC_RELEASE);
		if (s[i] == '\n')
			doorbell();
	}
}

void console_flush(void)
{
	if (ring->head != ring->tail)
		doorbell();
}

int printf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	console_write(buf, n < (int)sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	return n;
}
