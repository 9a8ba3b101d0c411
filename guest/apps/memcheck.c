/* app=memcheck and app=dirty: guest-side checks for live migration.
 *
 *   app=memcheck [size=MiB] [report-ms=N]
 *       fills a buffer (default 16 MiB) with a pattern derived from each
 *       page's number and version, then sleeps; every report-ms (default
 *       500) and right after each migration it verifies every page and
 *       reports on the console.
 *   app=dirty rate=PAGES_PER_SEC [size=MiB] [report-ms=N]
 *       the same, and keeps rewriting pages (new version each time) at a
 *       steady rate (default 1000 pages/s, buffer 64 MiB): a guest that
 *       dirties memory while it is being copied.
 *
 * A page is { u64 index, u64 version, 510 words of pattern(index, version) };
 * the expected version of each page is kept in a separate array. A page
 * lost or copied stale by a migration shows up as a mismatch, as does the
 * version array. The guest learns it moved from the platform's MIGRATED
 * register (and the interrupt raised with it). */
#include "../../common/layout.h"
#include "apps.h"
#include "guest/rt.h"

#define PAGE_WORDS (CSC_PAGE_SIZE / 8)

struct memcheck {
	uint64_t *buf;
	uint32_t *ver;
	uint64_t pages;
};

static uint64_t pattern(uint64_t page, uint64_t ver, uint64_t i)
{
	uint64_t x = (page + 1) * 0x9E3779B97F4A7C15ull ^ (ver << 32) ^ (i * 0xD6E8FEB86659FD93ull);
	return x ^ (x >> 29);
}

static void write_page(struct memcheck *mc, uint64_t p)
{
	uint64_t *w = mc->buf + p * PAGE_WORDS;
	uint64_t v = mc->ver[p];

	w[0] = p;
	w[1] = v;
	for (uint64_t i = 2; i < PAGE_WORDS; i++)
		w[i] = pattern(p, v, i);
}

/* Returns the number of bad pages; reports the first few. */
static uint64_t verify(struct memcheck *mc)
{
	uint64_t bad = 0;

	for (uint64_t p = 0; p < mc->pages; p++) {
		const uint64_t *w = mc->buf + p * PAGE_WORDS;
		uint64_t v = mc->ver[p];
		bool ok = w[0] == p && w[1] == v;
		for (uint64_t i = 2; ok && i < PAGE_WORDS; i++)
			ok = w[i] == pattern(p, v, i);
		if (!ok && bad++ < 4)
			printf("memcheck: page %llu bad (index %llu, version %llu, expected %llu)\n",
			       (unsigned long long)p, (unsigned long long)w[0], (unsigned long long)w[1],
			       (unsigned long long)v);
	}
	return bad;
}

/* Sleeps until the platform timer fires or any interrupt arrives (a
 * migration raises one). */
static void nap(uint32_t ms)
{
	uint32_t snap = irq_snapshot();

	platform_arm_test_irq(ms);
	irq_wait(snap);
}

static int run(bool dirtying)
{
	struct memcheck mc;
	uint64_t size_mib = cmdline_get_u64("size", dirtying ? 64 : 16);
	uint64_t rate = cmdline_get_u64("rate", 1000);
	uint64_t report_ms = cmdline_get_u64("report-ms", 500);
	const char *name = dirtying ? "dirty" : "memcheck";

	if (size_mib == 0 || (size_mib << 20) > rt_heap_free() / 2)
		panic("%s: size=%llu MiB does not fit (%llu MiB free)", name, (unsigned long long)size_mib,
		      (unsigned long long)(rt_heap_free() >> 20));
	if (report_ms == 0)
		report_ms = 500;
	mc.pages = (size_mib << 20) / CSC_PAGE_SIZE;
	mc.buf = rt_alloc(size_mib << 20, CSC_PAGE_SIZE);
	mc.ver = rt_alloc(mc.pages * sizeof(uint32_t), 64);
	for (uint64_t p = 0; p < mc.pages; p++) {
		mc.ver[p] = 1;
		write_page(&mc, p);
	}
	uint32_t gen = platform_migration_generation();
	printf("%s: %llu MiB filled (%llu pages)%s, generation %u\n", name, (unsigned long long)size_mib,
	       (unsigned long long)mc.pages, dirtying ? ", dirtying" : "", gen);
	if (dirtying)
		printf("dirty: rate %llu pages/s\n", (unsigned long long)rate);

	uint64_t t0 = clock_us(), last_ms = clock_ms(), next_report = last_ms + report_ms;
	uint64_t written = 0, cursor = 0, checks = 0;
	for (;;) {
		uint64_t now_ms = clock_ms();
		if (now_ms < last_ms)
			printf("%s: clock went backwards: %llu -> %llu ms\n", name, (unsigned long long)last_ms,
			       (unsigned long long)now_ms);
		last_ms = now_ms;
		uint32_t g = platform_migration_generation();
		if (g != gen) {
			uint64_t bad = verify(&mc);
			printf("%s: migrated (generation %u): %llu pages verified, %llu bad, clock %llu ms\n", name, g,
			       (unsigned long long)mc.pages, (unsigned long long)bad, (unsigned long long)now_ms);
			gen = g;
		}
		if (now_ms >= next_report) {
			uint64_t bad = verify(&mc);
			checks++;
			printf("%s: alive at %llu ms: check %llu %s (%llu bad), %llu pages rewritten, generation %u\n",
			       name, (unsigned long long)now_ms, (unsigned long long)checks, bad ? "FAILED" : "ok",
			       (unsigned long long)bad, (unsigned long long)written, gen);
			next_report = now_ms + report_ms;
		}
		if (!dirtying) {
			uint64_t wait = next_report > now_ms ? next_report - now_ms : 1;
			nap((uint32_t)wait);
			continue;
		}
		/* Steady rate: rewrite the pages due by now, one after another. */
		uint64_t due = (clock_us() - t0) * rate / 1000000;
		uint64_t burst = 0;
		while (written < due && burst++ < 4096) {
			mc.ver[cursor]++;
			write_page(&mc, cursor);
			cursor = cursor + 1 == mc.pages ? 0 : cursor + 1;
			written++;
		}
		if (written >= due)
			delay_ms(1);
	}
	return 0;
}

int app_memcheck(void)
{
	return run(false);
}

int app_dirty(void)
{
	return run(true);
}
