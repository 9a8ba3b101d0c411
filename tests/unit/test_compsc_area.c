/* CompSC shared area (compsc/shared_area.c): guest-side set-up and read
 * lock, hypervisor-side write lock, version and flag, staging of the
 * I/O-migrated registers, and THE VALIDATOR: a valid area passes, each
 * kind of corruption fails with its own message, and mutated bytes never
 * make it crash (ASan and UBSan in make test). Also the dummy writes of
 * compsc/dirty.c. */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/csc_errno.h"
#include "../../common/vf82576.h"
#include "../../compsc/dirty.h"
#include "../../compsc/regclass.h"
#include "../../compsc/shared_area.h"

#define RAM (64ull << 20)
#define TX_BASE 0x201000ull
#define RX_BASE 0x202000ull
#define BUFS 0x400000ull

static struct csc_shared_area good;

/* An area as the driver leaves it after probe and up. */
static void build_valid(struct csc_shared_area *a)
{
	const struct csc_intr_rec intr = { .eims = 7, .eiac = 7, .eiam = 7, .ivar0 = 0x8081, .ivar_misc = 0x82 };

	assert_int_equal(csc_area_init(a), 0);
	assert_int_equal(csc_area_add_dma(a, TX_BASE, 4096), 0);
	assert_int_equal(csc_area_add_dma(a, RX_BASE, 4096), 0);
	assert_int_equal(csc_area_add_dma(a, BUFS, 512 * 2048), 0);
	for (uint32_t i = 0; i < a->n_counters; i++)
		csc_counter_init(&a->counters[i], a->counters[i].offset, 1000 + i);
	assert_int_equal(csc_opset_begin(&a->rec, CSC_OP_INIT), 0);
	assert_int_equal(csc_opset_end(&a->rec, CSC_OP_INIT), 0);
	assert_int_equal(csc_opset_begin(&a->rec, CSC_OP_UP), 0);
	assert_int_equal(csc_rec_ring(&a->rec, CSC_RING_TX, 0, TX_BASE, 4096, 2048), 0);
	assert_int_equal(csc_rec_ring(&a->rec, CSC_RING_RX, 0, RX_BASE, 4096, 2048), 0);
	assert_int_equal(csc_rec_intr(&a->rec, &intr), 0);
	assert_int_equal(csc_opset_end(&a->rec, CSC_OP_UP), 0);
}

static int setup(void **state)
{
	(void)state;
	build_valid(&good);
	return 0;
}

/* ---- guest side ---------------------------------------------------------- */

static void test_init_contents(void **state)
{
	struct csc_shared_area a;
	char err[256];
	(void)state;

	assert_int_equal(csc_area_init(&a), 0);
	assert_int_equal(a.magic, CSC_AREA_MAGIC);
	assert_int_equal(a.layout, CSC_AREA_LAYOUT);
	assert_int_equal(a.device, VF_PCI_DEVICE);
	assert_int_equal(a.size, sizeof(a));
	assert_int_equal(a.n_ioregs, 17);
	for (unsigned i = 0; i < a.n_ioregs; i++)
		assert_int_equal(csc_reg_class(a.ioregs[i].offset), CSC_REG_IOMIGRATE);
	assert_int_equal(a.n_counters, 9);
	assert_int_equal(a.n_dma, 0);
	assert_int_equal(a.rec.state, CSC_IF_UNINIT);
	assert_int_equal(a.version, 0);
	/* A freshly initialised area is valid as it is. */
	assert_int_equal(csc_area_validate(&a, sizeof(a), RAM, err, sizeof(err)), 0);
	assert_string_equal(err, "");
}

static void test_size(void **state)
{
	(void)state;
	assert_int_equal(CSC_AREA_SIZE, 1416);
	assert_true(CSC_AREA_SIZE <= 4096);	/* one page */
	print_message("# shared area: %zu bytes (record %zu)\n", CSC_AREA_SIZE, csc_rec_size());
}

static void test_dma_regions(void **state)
{
	struct csc_shared_area a;
	(void)state;

	assert_int_equal(csc_area_init(&a), 0);
	assert_int_equal(csc_area_add_dma(&a, 0x200000, 4096), 0);
	assert_int_equal(csc_area_add_dma(&a, 0x200000, 4096), 0);	/* again: no-op */
	assert_int_equal(a.n_dma, 1);
	assert_int_equal(csc_area_add_dma(&a, 0x200000, 0), -EINVAL);
	assert_int_equal(csc_area_add_dma(&a, 0xfffffffffffff000ull, 0x2000), -EINVAL);
	for (uint64_t i = 1; i < CSC_AREA_MAX_DMA; i++)
		assert_int_equal(csc_area_add_dma(&a, 0x200000 + i * 0x1000, 4096), 0);
	assert_int_equal(csc_area_add_dma(&a, 0x800000, 4096), -ENOSPC);
	assert_int_equal(a.n_dma, CSC_AREA_MAX_DMA);
	csc_area_clear_dma(&a);
	assert_int_equal(a.n_dma, 0);
	assert_int_equal(a.dma[5].len, 0);
}

static void test_counter_lookup(void **state)
{
	struct csc_shared_area a = good;
	(void)state;

	struct csc_counter *c = csc_area_counter(&a, VF_GORC);
	assert_non_null(c);
	assert_int_equal(c->offset, VF_GORC);
	assert_null(csc_area_counter(&a, VF_EIAC));
	a.n_counters = 0xffff;	/* a scribbled count does not send it off the end */
	assert_null(csc_area_counter(&a, 0x1234));
}

/* ---- locks, version, flag ------------------------------------------------ */

static void test_read_lock_and_version(void **state)
{
	struct csc_shared_area a = good;
	(void)state;

	assert_int_equal(csc_area_read_trylock(&a), 0);
	assert_int_equal(a.readers, 1);
	assert_int_equal(csc_area_read_lock(&a), 0);	/* readers nest */
	assert_int_equal(a.readers, 2);
	csc_area_read_unlock(&a);
	csc_area_read_unlock(&a);
	assert_int_equal(a.readers, 0);

	/* A migration: the next read lock says "restore", until the driver
	 * acknowledges. */
	assert_int_equal(csc_area_bump_version(&a), 1);
	assert_int_equal(csc_area_read_lock(&a), 1);
	csc_area_read_unlock(&a);
	assert_int_equal(csc_area_read_lock(&a), 1);	/* restoration failed: asked again */
	csc_area_restored(&a);
	csc_area_read_unlock(&a);
	assert_int_equal(a.restored, 1);
	assert_int_equal(csc_area_read_lock(&a), 0);
	csc_area_read_unlock(&a);
}

struct waiter {
	struct csc_shared_area *a;
	int calls;
	int release_at;		/* the reader leaves at this wait call */
};

static void count_wait(void *ctx)
{
	struct waiter *w = ctx;

	if (++w->calls == w->release_at)
		csc_area_read_unlock(w->a);
}

static void test_write_lock(void **state)
{
	struct csc_shared_area a = good;
	struct waiter w = { .a = &a };
	(void)state;

	/* No readers: held at once. New readers stay out. */
	assert_int_equal(csc_area_try_write_lock(&a, 10, count_wait, &w), 0);
	assert_int_equal(w.calls, 0);
	assert_int_equal(a.writer, 1);
	assert_int_equal(csc_area_read_trylock(&a), -EBUSY);
	assert_int_equal(a.readers, 0);
	csc_area_write_unlock(&a);
	assert_int_equal(a.writer, 0);

	/* A reader in its op set that never leaves: bounded wait, then the
	 * flag is cleared again and the reader goes on. */
	assert_int_equal(csc_area_read_trylock(&a), 0);
	assert_int_equal(csc_area_try_write_lock(&a, 3, count_wait, &w), -ETIMEDOUT);
	assert_int_equal(w.calls, 3);
	assert_int_equal(a.writer, 0);
	assert_int_equal(csc_area_try_write_lock(&a, 0, NULL, NULL), -ETIMEDOUT);
	assert_int_equal(a.writer, 0);

	/* The reader leaves during the wait: held. */
	w.calls = 0;
	w.release_at = 2;
	assert_int_equal(csc_area_try_write_lock(&a, 5, count_wait, &w), 0);
	assert_int_equal(w.calls, 2);
	assert_int_equal(a.writer, 1);
	csc_area_write_unlock(&a);

	/* A guest that scribbles the lock words cannot hold the hypervisor:
	 * a huge reader count times out, a writer flag it set is taken over. */
	a.readers = 0xffffffffu;
	assert_int_equal(csc_area_try_write_lock(&a, 2, NULL, NULL), -ETIMEDOUT);
	a.readers = 0;
	a.writer = 1;
	assert_int_equal(csc_area_try_write_lock(&a, 0, NULL, NULL), 0);
	csc_area_write_unlock(&a);
}

static void test_migrating_flag(void **state)
{
	struct csc_shared_area a = good;
	(void)state;

	assert_false(csc_area_migrating(&a));
	csc_area_set_migrating(&a, 1);
	assert_true(csc_area_migrating(&a));
	assert_int_equal(a.migrating, 1);
	csc_area_set_migrating(&a, 0);
	assert_false(csc_area_migrating(&a));
}

/* Two threads: a driver that runs op sets under the read lock, a
 * hypervisor that takes the write lock again and again. The hypervisor
 * must never hold it while the driver is inside an op set. */
static struct csc_shared_area shared;
static int in_opset, stop, violations, opsets, writes, waits;

static void *driver_thread(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		csc_area_read_lock(&shared);
		__atomic_store_n(&in_opset, 1, __ATOMIC_SEQ_CST);
		for (volatile int i = 0; i < 50; i++)
			;
		__atomic_store_n(&in_opset, 0, __ATOMIC_SEQ_CST);
		csc_area_read_unlock(&shared);
		__atomic_add_fetch(&opsets, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void yield_wait(void *ctx)
{
	(void)ctx;
	waits++;
	sched_yield();
}

static void test_lock_threads(void **state)
{
	pthread_t t;
	(void)state;

	shared = good;
	stop = violations = opsets = writes = waits = 0;
	assert_int_equal(pthread_create(&t, NULL, driver_thread, NULL), 0);
	/* Start only once the driver runs (thread start-up is slow under
	 * ASan on a loaded machine), and keep going until the two met. */
	while (__atomic_load_n(&opsets, __ATOMIC_RELAXED) == 0)
		sched_yield();
	for (int i = 0; i < 3000 || (waits == 0 && i < 1000000); i++) {
		if (csc_area_try_write_lock(&shared, 100000, yield_wait, NULL) != 0)
			continue;
		writes++;
		for (int k = 0; k < 20; k++)
			if (__atomic_load_n(&in_opset, __ATOMIC_SEQ_CST))
				violations++;
		csc_area_write_unlock(&shared);
		sched_yield();
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	print_message("# lock: %d write locks (%d waits for a reader), %d op sets\n", writes, waits, opsets);
	assert_int_equal(violations, 0);
	assert_true(writes > 0);
	assert_true(waits > 0);		/* the writer did meet a reader inside */
	assert_int_equal(shared.readers, 0);
}

/* ---- staging and applying the I/O-migrated registers --------------------- */

static int read_calls;

static int fake_pf_read(void *ctx, uint32_t offset, uint32_t *value)
{
	(void)ctx;
	read_calls++;
	if (offset == 0xdead)
		return -EIO;
	*value = offset ^ 0xabc00000u;
	return 0;
}

struct written {
	uint32_t off[64], val[64];
	unsigned n;
	int fail;
};

static int fake_write(void *ctx, uint32_t offset, uint32_t value)
{
	struct written *w = ctx;

	if (w->fail)
		return -EIO;
	w->off[w->n] = offset;
	w->val[w->n++] = value;
	return 0;
}

static void test_stage_and_apply_ioregs(void **state)
{
	struct csc_shared_area live = good, copy;
	struct written w = { .n = 0 };
	(void)state;

	/* The hypervisor works from its validated copy; the guest may have
	 * changed the live list meanwhile (here: wiped it). */
	copy = live;
	assert_int_equal(csc_area_validate(&copy, sizeof(copy), RAM, NULL, 0), 0);
	memset(live.ioregs, 0x5a, sizeof(live.ioregs));
	live.n_ioregs = 999;
	read_calls = 0;
	assert_int_equal(csc_area_stage_ioregs(&live, &copy, fake_pf_read, NULL), 0);
	assert_int_equal(read_calls, 17);
	assert_int_equal(live.n_ioregs, 17);
	for (unsigned i = 0; i < 17; i++) {
		assert_int_equal(live.ioregs[i].offset, copy.ioregs[i].offset);
		assert_int_equal(live.ioregs[i].value, copy.ioregs[i].offset ^ 0xabc00000u);
	}

	/* The driver's restoration writes them back, in list order. */
	assert_int_equal(csc_area_apply_ioregs(&live, fake_write, &w), 17);
	assert_int_equal(w.n, 17);
	assert_int_equal(w.off[0], VF_EIAC);
	assert_int_equal(w.val[0], VF_EIAC ^ 0xabc00000u);
	/* It never writes a register that is not I/O-migrated. */
	live.ioregs[1].offset = VF_CTRL;
	w.n = 0;
	assert_int_equal(csc_area_apply_ioregs(&live, fake_write, &w), 16);
	for (unsigned i = 0; i < w.n; i++)
		assert_int_not_equal(w.off[i], VF_CTRL);
	w.fail = 1;
	assert_int_equal(csc_area_apply_ioregs(&live, fake_write, &w), -EIO);

	/* A PF read error stops the staging. */
	copy.ioregs[3].offset = 0xdead;
	assert_int_equal(csc_area_stage_ioregs(&live, &copy, fake_pf_read, NULL), -EIO);
}

static uint32_t final_raw[CSC_AREA_MAX_COUNTERS];

static int fake_counter_read(void *ctx, uint32_t offset, uint32_t *value)
{
	const struct csc_shared_area *a = ctx;

	for (uint32_t i = 0; i < a->n_counters; i++)
		if (a->counters[i].offset == offset) {
			*value = final_raw[i];
			return 0;
		}
	return -EIO;
}

static void test_stage_counters_folds_final_readings(void **state)
{
	struct csc_shared_area live = good, copy;
	(void)state;

	assert_true(live.n_counters >= 3);
	/* Driver: counter 0 last read at 100 (total 100), counter 1 near
	 * the wrap (total 2^32 + 0xfffffff0), counter 2 idle at 7. */
	live.counters[0].last_raw = 100, live.counters[0].base = 0;
	live.counters[1].last_raw = 0xfffffff0u, live.counters[1].base = 1ull << 32;
	live.counters[2].last_raw = 7, live.counters[2].base = 0;
	copy = live;
	assert_int_equal(csc_area_validate(&copy, sizeof(copy), RAM, NULL, 0), 0);
	/* The VF counted on after the last reading: 100 -> 130, a wrap to
	 * 0x10, nothing. The guest scribbles its live list meanwhile: the
	 * hypervisor works from the copy. */
	final_raw[0] = 130, final_raw[1] = 0x10, final_raw[2] = 7;
	live.counters[0].base = 0xdeadull;
	assert_int_equal(csc_area_stage_counters(&live, &copy, fake_counter_read, &copy), 0);
	assert_int_equal(csc_counter_total(&live.counters[0]), 130);
	assert_int_equal(csc_counter_total(&live.counters[1]), (2ull << 32) + 0x10);
	assert_int_equal(csc_counter_total(&live.counters[2]), 7);
	/* On the destination the totals then continue from there. */
	csc_counter_migrated(&live.counters[0], 5);
	assert_int_equal(csc_counter_total(&live.counters[0]), 130);
	assert_int_equal(csc_counter_update(&live.counters[0], 9), 134);

	/* A PF read error stops the staging. */
	copy.counters[0].offset = 0xdead;
	assert_int_equal(csc_area_stage_counters(&live, &copy, fake_counter_read, (void *)&good), -EIO);
}

/* ---- where the area may be ----------------------------------------------- */

static void test_locate(void **state)
{
	char err[200];
	(void)state;

	assert_int_equal(csc_area_locate(0x200000, RAM, err, sizeof(err)), 0);
	assert_int_equal(csc_area_locate(RAM - CSC_AREA_SIZE - 56, RAM, err, sizeof(err)), 0);
	assert_int_equal(csc_area_locate(0x200008, RAM, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not 64-byte aligned"));
	assert_int_equal(csc_area_locate(0x8000, RAM, err, sizeof(err)), -EINVAL);	/* boot info */
	assert_non_null(strstr(err, "VMM-owned pages"));
	assert_int_equal(csc_area_locate(RAM - 64, RAM, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "is not inside guest RAM"));
	assert_int_equal(csc_area_locate(0xffffffffffffffc0ull, RAM, err, sizeof(err)), -EINVAL);
	assert_int_equal(csc_area_locate(RAM, RAM, err, sizeof(err)), -EINVAL);
}

/* ---- THE VALIDATOR -------------------------------------------------------- */

static void test_valid_area_passes(void **state)
{
	char err[256] = "x";
	(void)state;

	assert_int_equal(csc_area_validate(&good, sizeof(good), RAM, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	/* At any alignment, and with more bytes than the layout needs. */
	uint8_t *buf = malloc(sizeof(good) + 16);
	assert_non_null(buf);
	memcpy(buf + 3, &good, sizeof(good));
	assert_int_equal(csc_area_validate(buf + 3, sizeof(good) + 13, RAM, err, sizeof(err)), 0);
	free(buf);
	/* Values the hypervisor does not interpret may be anything. */
	struct csc_shared_area a = good;
	a.readers = 7, a.writer = 1, a.version = 0xffffffffu, a.restored = 3;
	a.counters[2].base = ~0ull;
	a.ioregs[0].value = 0xffffffffu;
	a.migrating = 1;
	assert_int_equal(csc_area_validate(&a, sizeof(a), RAM, err, sizeof(err)), 0);
	/* A DMA region that ends exactly at the end of RAM is inside. */
	a.dma[a.n_dma].gpa = RAM - 4096;
	a.dma[a.n_dma++].len = 4096;
	assert_int_equal(csc_area_validate(&a, sizeof(a), RAM, err, sizeof(err)), 0);
}

static void expect_reject(const struct csc_shared_area *a, size_t len, const char *want)
{
	char err[256];

	assert_int_equal(csc_area_validate(a, len, RAM, err, sizeof(err)), -EINVAL);
	if (!strstr(err, want))
		fail_msg("error '%s' does not mention '%s'", err, want);
}

#define CORRUPT(stmt, want)                                \
	do {                                               \
		struct csc_shared_area c_ = good;          \
		struct csc_shared_area *c = &c_;           \
		stmt;                                      \
		expect_reject(c, sizeof(*c), want);        \
	} while (0)

static void test_each_corruption_has_its_message(void **state)
{
	(void)state;
	char err[256];

	expect_reject(&good, sizeof(good) - 1, "area copy is 1415 bytes, the layout needs 1416");
	assert_int_equal(csc_area_validate(NULL, 4096, RAM, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "area copy is 0 bytes"));

	/* header */
	CORRUPT(c->magic = 0x12345678, "bad magic 0x12345678");
	CORRUPT(c->layout = 2, "layout version 0x2 unknown");
	CORRUPT(c->device = 0x10ed, "device 0x10ed is not a VF personality");
	CORRUPT(c->size = 4096, "size field 0x1000 does not match");
	CORRUPT(c->reserved0 = 5, "reserved header field is 0x5");
	CORRUPT(c->migrating = 2, "migrating flag is 0x2");

	/* counts */
	CORRUPT(c->n_ioregs = 33, "I/O-migration register count 33 exceeds the bound 32");
	CORRUPT(c->n_ioregs = 0xffffffffu, "I/O-migration register count 4294967295 exceeds");
	CORRUPT(c->n_counters = 17, "counter count 17 exceeds the bound 16");
	CORRUPT(c->n_dma = 33, "DMA region count 33 exceeds the bound 32");
	CORRUPT(c->n_dma = 0x80000000u, "DMA region count 2147483648 exceeds");

	/* register lists */
	CORRUPT(c->ioregs[3].offset = VF_RDT(0),
		"I/O-migration register 3: offset 0x2818 is not an I/O-migration register (class volatile)");
	CORRUPT(c->ioregs[4].offset = VF_CTRL, "offset 0x0 is not an I/O-migration register (class op set)");
	CORRUPT(c->ioregs[4].offset = 0x0004, "(class unknown)");
	CORRUPT(c->ioregs[4].offset = VF_EIAC + 1, "(class unknown)");
	CORRUPT(c->ioregs[5].offset = c->ioregs[2].offset, "I/O-migration register 5: offset 0x1680 is listed twice");
	CORRUPT(c->counters[1].offset = VF_EIAC,
		"counter 1: offset 0x152c is not a counter register (class I/O-migrated)");
	CORRUPT(c->counters[8].offset = c->counters[0].offset, "counter 8: offset 0xf10 is listed twice");
	/* An entry beyond the count is not looked at; the count moving over a
	 * bad one is caught. */
	CORRUPT((c->ioregs[20].offset = VF_CTRL, c->n_ioregs = 21), "I/O-migration register 17:");

	/* DMA regions */
	CORRUPT(c->dma[1].len = 0, "DMA region 1: at 0x202000 is empty");
	CORRUPT((c->dma[1].gpa = 0xffffffffffffff00ull, c->dma[1].len = 0x200), "DMA region 1: at 0xffffffffffffff00 wraps");
	CORRUPT((c->dma[2].gpa = RAM - 4096, c->dma[2].len = 4097),
		"DMA region 2: [0x3fff000, 0x4000001) is beyond guest RAM (0x4000000 bytes)");
	CORRUPT((c->dma[2].gpa = RAM, c->dma[2].len = 1), "DMA region 2: [0x4000000, 0x4000001) is beyond");
	CORRUPT((c->dma[0].gpa = 0x1000, c->dma[0].len = ~0ull - 0x1000), "DMA region 0: [0x1000");

	/* the record */
	CORRUPT(c->rec.state = 9, "record: interface state 9 unknown");
	CORRUPT(c->rec.in_progress = CSC_OP_UP, "record: op set up in progress is not allowed in state up");
	CORRUPT(c->rec.mc_count = 0xffffffffu, "record: multicast count 4294967295 exceeds 30");
	CORRUPT(c->rec.rings[2].len = 100, "record: ring 2: length");
	CORRUPT(c->rec.rings[2].base = RAM - 2048, "record: ring 2: descriptors at 0x3fff800 + 0x1000 are beyond");
	/* A ring the driver did not register for DMA would not be sent. */
	CORRUPT(c->dma[0].gpa = 0x300000, "record: ring 0: descriptors at 0x201000 are in no registered DMA region");
	CORRUPT(c->dma[1].len = 2048, "record: ring 2: descriptors at 0x202000 are in no registered DMA region");
	CORRUPT(c->n_dma = 0, "record: ring 0:");

	/* No message buffer, or a tiny one: still refused, never overrun. */
	struct csc_shared_area bad = good;
	bad.magic = 0;
	assert_int_equal(csc_area_validate(&bad, sizeof(bad), RAM, NULL, 100), -EINVAL);
	char tiny[8];
	memset(tiny, 'x', sizeof(tiny));
	assert_int_equal(csc_area_validate(&bad, sizeof(bad), RAM, tiny, 5), -EINVAL);
	assert_string_equal(tiny, "bad ");
	assert_int_equal(tiny[5], 'x');
}

/* What a validated area promises the hypervisor. */
static void check_promises(const struct csc_shared_area *a, uint64_t ram)
{
	assert_true(a->n_ioregs <= CSC_AREA_MAX_IOREGS);
	assert_true(a->n_counters <= CSC_AREA_MAX_COUNTERS);
	assert_true(a->n_dma <= CSC_AREA_MAX_DMA);
	for (uint32_t i = 0; i < a->n_ioregs; i++)
		assert_int_equal(csc_reg_class(a->ioregs[i].offset), CSC_REG_IOMIGRATE);
	for (uint32_t i = 0; i < a->n_counters; i++)
		assert_int_equal(csc_reg_class(a->counters[i].offset), CSC_REG_COUNTER);
	for (uint32_t i = 0; i < a->n_dma; i++) {
		assert_true(a->dma[i].len > 0);
		assert_true(a->dma[i].gpa < ram && a->dma[i].len <= ram - a->dma[i].gpa);
	}
	assert_true(a->rec.state < CSC_IF_NSTATES);
	assert_true(a->rec.mc_count <= CSC_REC_MAX_MC);
}

static void test_mutated_bytes_never_crash(void **state)
{
	unsigned passed = 0, refused = 0;
	char err[64];
	(void)state;

	srand(12345);
	for (int iter = 0; iter < 40000; iter++) {
		/* An exact-size heap copy, so ASan sees any read past it. */
		size_t len = sizeof(good);
		if (rand() % 16 == 0)
			len = (size_t)rand() % (sizeof(good) + 1);
		uint8_t *buf = malloc(len ? len : 1);
		assert_non_null(buf);
		memcpy(buf, &good, len);
		int flips = 1 + rand() % 8;
		for (int k = 0; k < flips && len; k++) {
			size_t at;
			/* Half the time aim at the header and counts, where a
			 * single byte decides the most. */
			if (rand() % 2)
				at = (size_t)rand() % (len < 0x30 ? len : 0x30);
			else
				at = (size_t)rand() % len;
			buf[at] = rand() % 4 ? (uint8_t)rand() : (uint8_t)(rand() % 2 ? 0xff : 0);
		}
		uint64_t ram = rand() % 8 ? RAM : (uint64_t)rand() * 4096;
		size_t errlen = (size_t)rand() % sizeof(err);
		int ret = csc_area_validate(buf, len, ram, err, errlen);
		if (ret == 0) {
			struct csc_shared_area a;
			assert_true(len >= sizeof(a));
			memcpy(&a, buf, sizeof(a));
			check_promises(&a, ram);
			passed++;
		} else {
			assert_int_equal(ret, -EINVAL);
			if (errlen)
				assert_true(strlen(err) < errlen);
			refused++;
		}
		free(buf);
	}
	/* Entirely random bytes (with the right magic, to get past it). */
	for (int iter = 0; iter < 5000; iter++) {
		struct csc_shared_area a;
		uint8_t *p = (uint8_t *)&a;
		for (size_t i = 0; i < sizeof(a); i++)
			p[i] = (uint8_t)rand();
		a.magic = CSC_AREA_MAGIC;
		if (csc_area_validate(&a, sizeof(a), RAM, err, sizeof(err)) == 0)
			check_promises(&a, RAM);
	}
	print_message("# mutated areas: %u accepted, %u refused\n", passed, refused);
	assert_true(passed > 0);
	assert_true(refused > 0);
}

/* ---- dummy writes ---------------------------------------------------------- */

static void test_dirty_touch(void **state)
{
	(void)state;
	uint8_t *mem = aligned_alloc(4096, 4 * 4096);
	assert_non_null(mem);
	for (size_t i = 0; i < 4 * 4096; i++)
		mem[i] = (uint8_t)(i * 7);

	assert_int_equal(csc_dirty_touch(mem, 0), 0);
	assert_int_equal(csc_dirty_touch(mem, 1), 1);
	assert_int_equal(csc_dirty_touch(mem, 4096), 1);
	assert_int_equal(csc_dirty_touch(mem, 4097), 2);
	assert_int_equal(csc_dirty_touch(mem + 4095, 2), 2);
	assert_int_equal(csc_dirty_touch(mem + 100, 3 * 4096), 4);
	assert_int_equal(csc_dirty_touch(mem + 4096 * 3 + 4000, 96), 1);
	/* A dummy write changes nothing. */
	for (size_t i = 0; i < 4 * 4096; i++)
		assert_int_equal(mem[i], (uint8_t)(i * 7));
	/* A range that would wrap the address space is refused. */
	assert_int_equal(csc_dirty_touch((void *)(uintptr_t)-16, 64), 0);
	free(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_contents),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_dma_regions),
		cmocka_unit_test(test_counter_lookup),
		cmocka_unit_test(test_read_lock_and_version),
		cmocka_unit_test(test_write_lock),
		cmocka_unit_test(test_migrating_flag),
		cmocka_unit_test(test_lock_threads),
		cmocka_unit_test(test_stage_and_apply_ioregs),
		cmocka_unit_test(test_stage_counters_folds_final_readings),
		cmocka_unit_test(test_locate),
		cmocka_unit_test(test_valid_area_passes),
		cmocka_unit_test(test_each_corruption_has_its_message),
		cmocka_unit_test(test_mutated_bytes_never_crash),
		cmocka_unit_test(test_dirty_touch),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
