/* app=memload: memory work beside the network apps, for the migration
 * experiments (bench/paper.py, scaling):
 *
 *   fill-mib=N      N MiB of guest memory written once at start (non-zero
 *                   pages: pre-copy has to send them, unlike untouched RAM)
 *   dirty-rate=P    then P pages per second of that buffer rewritten, in
 *                   order and wrapping (default 0): a guest that dirties
 *                   memory while it is being copied
 *
 * Paced from the network main loop like udpsource: each poll catches up
 * with the pages due by now, at most a bounded burst at a time so the
 * network apps keep being served. */
#include "../../common/layout.h"
#include "guest/rt.h"
#include "net.h"

#define BURST_PAGES 256

static struct {
	uint8_t *buf;
	uint64_t pages, rate, start_us, written;
	uint32_t stamp;
} ml;

int memload_start(void)
{
	uint64_t mib = cmdline_get_u64("fill-mib", 16);

	ml.rate = cmdline_get_u64("dirty-rate", 0);
	if (mib == 0 || (mib << 20) > rt_heap_free() / 2 || ml.rate > 10000000) {
		printf("memload: fill-mib=%llu MiB does not fit (%llu MiB free) or dirty-rate too high\n",
		       (unsigned long long)mib, (unsigned long long)(rt_heap_free() >> 20));
		return 2;
	}
	ml.pages = (mib << 20) / CSC_PAGE_SIZE;
	ml.buf = rt_alloc(mib << 20, CSC_PAGE_SIZE);
	for (uint64_t p = 0; p < ml.pages; p++)
		for (uint64_t w = 0; w < CSC_PAGE_SIZE / 8; w++)
			((uint64_t *)(ml.buf + p * CSC_PAGE_SIZE))[w] = (p << 20) ^ w ^ 0x5a5a5a5a5a5a5a5aull;
	ml.start_us = clock_us();
	printf("memload: %llu MiB filled, dirtying %llu pages/s\n", (unsigned long long)mib,
	       (unsigned long long)ml.rate);
	return 0;
}

bool memload_poll(uint64_t now, uint64_t *next)
{
	if (ml.rate == 0)
		return false;
	uint64_t due = (now - ml.start_us) * ml.rate / 1000000 + 1;
	unsigned burst = 0;
	while (ml.written < due && burst < BURST_PAGES) {
		uint64_t *page = (uint64_t *)(ml.buf + (ml.written % ml.pages) * CSC_PAGE_SIZE);
		/* One word per cache line: the page is dirty, the cost stays low. */
		for (unsigned w = 0; w < CSC_PAGE_SIZE / 8; w += 8)
			page[w] = ml.written ^ ++ml.stamp;
		ml.written++;
		burst++;
	}
	uint64_t at = ml.start_us + ml.written * 1000000 / ml.rate;
	if (at < *next)
		*next = at;
	return burst > 0;
}

void memload_report(void)
{
	printf("memload: %llu pages dirtied\n", (unsigned long long)ml.written);
}
