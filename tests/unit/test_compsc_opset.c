/* CompSC op sets and the recorded state (compsc/opset.c): the state
 * machine, recording, replay into a fake hardware-ops table, a record
 * taken in the middle of an op set, and the check of an untrusted record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/csc_errno.h"
#include "../../common/vf82576.h"
#include "../../compsc/opset.h"

/* ---- a fake driver: logs each hardware operation with its parameters ---- */

struct fake {
	char log[4096];
	int fail_at;	/* fail the n-th call (1-based), 0: never */
	int calls;
};

static int note(struct fake *f, const char *fmt, ...)
{
	va_list ap;
	size_t n = strlen(f->log);

	va_start(ap, fmt);
	vsnprintf(f->log + n, sizeof(f->log) - n, fmt, ap);
	va_end(ap);
	n = strlen(f->log);
	snprintf(f->log + n, sizeof(f->log) - n, ";");
	return ++f->calls == f->fail_at ? -EIO : 0;
}

static int f_reset(void *ctx)
{
	return note(ctx, "reset");
}

static int f_set_mac(void *ctx, const uint8_t mac[6])
{
	return note(ctx, "mac %02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

static int f_update_mc(void *ctx, const uint8_t (*list)[6], unsigned n)
{
	return note(ctx, "mc %u first %02x last %02x", n, n ? list[0][5] : 0, n ? list[n - 1][5] : 0);
}

static int f_set_lpe(void *ctx, uint32_t max_frame)
{
	return note(ctx, "lpe %u", max_frame);
}

static int f_rings(void *ctx, const struct csc_ring_rec *r)
{
	return note(ctx, "ring %s%u 0x%llx %u %u", r->dir == CSC_RING_TX ? "tx" : "rx", r->queue,
		    (unsigned long long)r->base, r->len, r->buf_size);
}

static int f_intr(void *ctx, const struct csc_intr_rec *i)
{
	return note(ctx, "intr eims %x eiac %x eiam %x ivar %x misc %x eitr %u %u %u", i->eims, i->eiac, i->eiam,
		    i->ivar0, i->ivar_misc, i->eitr[0], i->eitr[1], i->eitr[2]);
}

static int f_regs(void *ctx)
{
	return note(ctx, "regs");
}

static int f_up(void *ctx)
{
	return note(ctx, "up");
}

static int f_down(void *ctx)
{
	return note(ctx, "down");
}

static const struct csc_replay_ops fake_ops = {
	.reset = f_reset, .set_mac = f_set_mac, .update_mc = f_update_mc, .set_lpe = f_set_lpe,
	.configure_rings = f_rings, .configure_interrupts = f_intr, .restore_regs = f_regs,
	.up = f_up, .down = f_down,
};

static const uint8_t MAC1[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t MAC2[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };
static const struct csc_intr_rec INTR = {
	.eims = 7, .eiac = 7, .eiam = 7, .ivar0 = 0x8081, .ivar_misc = 0x82, .eitr = { 196, 196, 196 },
};

#define RX_BASE 0x200000ull
#define TX_BASE 0x201000ull

/* A driver's life, igbvf style: probe (init), up, a MAC, a multicast list,
 * jumbo frames. */
static void drive_to_up(struct csc_rec *rec)
{
	uint8_t mc[3][6] = { { 0x01, 0, 0x5e, 0, 0, 0x0a }, { 0x01, 0, 0x5e, 0, 0, 0x0b }, { 0x01, 0, 0x5e, 0, 0, 0x0c } };

	csc_rec_init(rec);
	assert_int_equal(csc_opset_begin(rec, CSC_OP_INIT), 0);
	assert_int_equal(csc_opset_end(rec, CSC_OP_INIT), 0);
	assert_int_equal(csc_opset_begin(rec, CSC_OP_UP), 0);
	assert_int_equal(csc_rec_ring(rec, CSC_RING_TX, 0, TX_BASE, 256 * 16, 2048), 0);
	assert_int_equal(csc_rec_ring(rec, CSC_RING_RX, 0, RX_BASE, 256 * 16, 2048), 0);
	assert_int_equal(csc_rec_intr(rec, &INTR), 0);
	assert_int_equal(csc_opset_end(rec, CSC_OP_UP), 0);
	assert_int_equal(csc_opset_begin(rec, CSC_OP_SET_MAC), 0);
	assert_int_equal(csc_rec_mac(rec, MAC1), 0);
	assert_int_equal(csc_opset_end(rec, CSC_OP_SET_MAC), 0);
	assert_int_equal(csc_opset_begin(rec, CSC_OP_SET_MC), 0);
	assert_int_equal(csc_rec_mc(rec, (const uint8_t (*)[6])mc, 3), 0);
	assert_int_equal(csc_opset_end(rec, CSC_OP_SET_MC), 0);
	assert_int_equal(csc_opset_begin(rec, CSC_OP_SET_LPE), 0);
	assert_int_equal(csc_rec_lpe(rec, 9018), 0);
	assert_int_equal(csc_opset_end(rec, CSC_OP_SET_LPE), 0);
}

#define UP_REPLAY                                                                                  \
	"reset;mac 02:00:00:00:00:01;mc 3 first 0a last 0c;lpe 9018;"                              \
	"ring tx0 0x201000 4096 2048;ring rx0 0x200000 4096 2048;"                                 \
	"intr eims 7 eiac 7 eiam 7 ivar 8081 misc 82 eitr 196 196 196;regs;up;"

/* ---- the state machine ---------------------------------------------------- */

static void test_transition_table(void **state)
{
	(void)state;
	/* Expected: the table of opset.h, cell by cell. -1: not allowed. */
	static const int want[CSC_IF_NSTATES][CSC_OP_COUNT] = {
		/*               NONE INIT UP  DOWN MAC MC LPE INTR RINGS */
		[CSC_IF_UNINIT] = { -1, 1, -1, -1, -1, -1, -1, -1, -1 },
		[CSC_IF_DOWN] = { -1, 1, 2, -1, 1, 1, 1, 1, 1 },
		[CSC_IF_UP] = { -1, -1, -1, 1, 2, 2, 2, 2, -1 },
	};
	for (int s = 0; s < CSC_IF_NSTATES; s++)
		for (int op = 0; op < CSC_OP_COUNT; op++) {
			int got = csc_opset_next_state((enum csc_if_state)s, (enum csc_opset)op);
			assert_int_equal(got, want[s][op] < 0 ? -EINVAL : want[s][op]);
		}
	assert_int_equal(csc_opset_next_state((enum csc_if_state)3, CSC_OP_INIT), -EINVAL);
	assert_int_equal(csc_opset_next_state(CSC_IF_DOWN, CSC_OP_COUNT), -EINVAL);
}

static void test_begin_end(void **state)
{
	struct csc_rec rec;
	(void)state;

	csc_rec_init(&rec);
	assert_int_equal(rec.state, CSC_IF_UNINIT);
	/* Invalid transitions are refused and change nothing. */
	assert_int_equal(csc_opset_begin(&rec, CSC_OP_UP), -EINVAL);
	assert_int_equal(csc_opset_begin(&rec, CSC_OP_SET_MAC), -EINVAL);
	assert_int_equal(csc_opset_begin(&rec, CSC_OP_NONE), -EINVAL);
	assert_int_equal(csc_opset_begin(&rec, (enum csc_opset)42), -EINVAL);
	assert_int_equal(rec.in_progress, CSC_OP_NONE);
	assert_int_equal(rec.seq, 0);

	assert_int_equal(csc_opset_begin(&rec, CSC_OP_INIT), 0);
	assert_int_equal(rec.in_progress, CSC_OP_INIT);	/* visible half-done */
	assert_int_equal(rec.state, CSC_IF_UNINIT);
	/* Op sets do not nest; ending another one is an error. */
	assert_int_equal(csc_opset_begin(&rec, CSC_OP_INIT), -EBUSY);
	assert_int_equal(csc_opset_end(&rec, CSC_OP_UP), -EINVAL);
	assert_int_equal(csc_opset_end(&rec, CSC_OP_INIT), 0);
	assert_int_equal(rec.state, CSC_IF_DOWN);
	assert_int_equal(rec.seq, 1);
	assert_int_equal(csc_opset_end(&rec, CSC_OP_INIT), -EINVAL);	/* none in progress */

	assert_int_equal(csc_opset_begin(&rec, CSC_OP_DOWN), -EINVAL);	/* already down */
	assert_int_equal(csc_opset_begin(&rec, CSC_OP_UP), 0);
	assert_int_equal(csc_opset_end(&rec, CSC_OP_UP), 0);
	assert_int_equal(rec.state, CSC_IF_UP);
	assert_int_equal(csc_opset_begin(&rec, CSC_OP_UP), -EINVAL);
	assert_int_equal(csc_opset_begin(&rec, CSC_OP_INIT), -EINVAL);	/* down first */
	assert_int_equal(csc_opset_begin(&rec, CSC_OP_CONFIG_RINGS), -EINVAL);

	/* An aborted op set leaves the state as it was. */
	assert_int_equal(csc_opset_begin(&rec, CSC_OP_DOWN), 0);
	csc_opset_abort(&rec);
	assert_int_equal(rec.state, CSC_IF_UP);
	assert_int_equal(rec.in_progress, CSC_OP_NONE);
	assert_int_equal(rec.seq, 2);
	assert_int_equal(csc_opset_begin(&rec, CSC_OP_DOWN), 0);
	assert_int_equal(csc_opset_end(&rec, CSC_OP_DOWN), 0);
	assert_int_equal(rec.state, CSC_IF_DOWN);
	assert_int_equal(rec.seq, 3);
}

static void test_recording_rules(void **state)
{
	struct csc_rec rec;
	(void)state;

	csc_rec_init(&rec);
	/* Outside any op set nothing is recorded. */
	assert_int_equal(csc_rec_mac(&rec, MAC1), -EINVAL);
	assert_int_equal(csc_rec_intr(&rec, &INTR), -EINVAL);
	assert_int_equal(rec.have, 0);
	assert_int_equal(csc_opset_begin(&rec, CSC_OP_INIT), 0);
	assert_int_equal(csc_opset_end(&rec, CSC_OP_INIT), 0);
	/* Only the parameters of the op set in progress. */
	assert_int_equal(csc_opset_begin(&rec, CSC_OP_SET_MAC), 0);
	assert_int_equal(csc_rec_lpe(&rec, 9000), -EINVAL);
	assert_int_equal(csc_rec_ring(&rec, CSC_RING_RX, 0, RX_BASE, 4096, 2048), -EINVAL);
	assert_int_equal(csc_rec_mac(&rec, MAC1), 0);
	assert_int_equal(csc_opset_end(&rec, CSC_OP_SET_MAC), 0);
	assert_int_equal(rec.have, CSC_HAVE_MAC);
	/* Values the hardware would refuse are refused here too. */
	assert_int_equal(csc_opset_begin(&rec, CSC_OP_SET_MAC), 0);
	const uint8_t mcast[6] = { 0x01, 0, 0x5e, 0, 0, 1 }, zero[6] = { 0 };
	assert_int_equal(csc_rec_mac(&rec, mcast), -EINVAL);
	assert_int_equal(csc_rec_mac(&rec, zero), -EINVAL);
	csc_opset_abort(&rec);
	assert_memory_equal(rec.mac, MAC1, 6);
	assert_int_equal(csc_opset_begin(&rec, CSC_OP_SET_LPE), 0);
	assert_int_equal(csc_rec_lpe(&rec, 63), -EINVAL);
	assert_int_equal(csc_rec_lpe(&rec, 16129), -EINVAL);
	assert_int_equal(csc_rec_lpe(&rec, 16128), 0);
	assert_int_equal(csc_opset_end(&rec, CSC_OP_SET_LPE), 0);
	assert_int_equal(csc_opset_begin(&rec, CSC_OP_CONFIG_RINGS), 0);
	assert_int_equal(csc_rec_ring(&rec, CSC_RING_RX, 2, RX_BASE, 4096, 2048), -EINVAL);	/* queue */
	assert_int_equal(csc_rec_ring(&rec, CSC_RING_RX, 0, RX_BASE + 8, 4096, 2048), -EINVAL); /* align */
	assert_int_equal(csc_rec_ring(&rec, CSC_RING_RX, 0, RX_BASE, 4000, 2048), -EINVAL);	/* len */
	assert_int_equal(csc_rec_ring(&rec, CSC_RING_RX, 0, RX_BASE, 0, 2048), -EINVAL);
	assert_int_equal(csc_rec_ring(&rec, CSC_RING_RX, 0, RX_BASE, 4096, 1000), -EINVAL);	/* bufsize */
	assert_int_equal(csc_rec_ring(&rec, (enum csc_ring_dir)2, 0, RX_BASE, 4096, 2048), -EINVAL);
	assert_int_equal(csc_rec_ring(&rec, CSC_RING_TX, 1, TX_BASE, 128, 0), 0);
	assert_int_equal(csc_opset_end(&rec, CSC_OP_CONFIG_RINGS), 0);
	assert_int_equal(rec.rings[1].valid, 1);
	assert_int_equal(rec.rings[1].queue, 1);

	/* INIT (a reset) forgets every setting, as the hardware does. */
	assert_int_equal(csc_opset_begin(&rec, CSC_OP_INIT), 0);
	assert_int_equal(rec.have, 0);
	assert_int_equal(rec.rings[1].valid, 0);
	assert_int_equal(csc_opset_end(&rec, CSC_OP_INIT), 0);
}

static void test_multicast_cut_to_30(void **state)
{
	struct csc_rec rec;
	uint8_t mc[40][6];
	struct fake f = { 0 };
	(void)state;

	for (int i = 0; i < 40; i++) {
		memset(mc[i], 0, 6);
		mc[i][0] = 0x01;
		mc[i][5] = (uint8_t)i;
	}
	csc_rec_init(&rec);
	assert_int_equal(csc_opset_begin(&rec, CSC_OP_INIT), 0);
	assert_int_equal(csc_rec_mc(&rec, (const uint8_t (*)[6])mc, 40), 0);
	assert_int_equal(csc_opset_end(&rec, CSC_OP_INIT), 0);
	assert_int_equal(rec.mc_count, 30);
	assert_int_equal(csc_rec_replay(&rec, &fake_ops, &f), 0);
	assert_string_equal(f.log, "reset;mc 30 first 00 last 1d;down;");
}

/* ---- replay ------------------------------------------------------------- */

static void test_replay_up(void **state)
{
	struct csc_rec rec;
	struct fake f = { 0 };
	(void)state;

	drive_to_up(&rec);
	assert_int_equal(rec.state, CSC_IF_UP);
	assert_int_equal(rec.seq, 5);
	assert_int_equal(csc_rec_replay(&rec, &fake_ops, &f), 0);
	assert_string_equal(f.log, UP_REPLAY);
	assert_int_equal(rec.state, CSC_IF_UP);
	assert_int_equal(rec.seq, 5);	/* nothing was in progress */

	/* Replaying twice (a second migration) gives the same sequence, and
	 * the latest value of each setting wins. */
	assert_int_equal(csc_opset_begin(&rec, CSC_OP_SET_MAC), 0);
	assert_int_equal(csc_rec_mac(&rec, MAC2), 0);
	assert_int_equal(csc_opset_end(&rec, CSC_OP_SET_MAC), 0);
	memset(&f, 0, sizeof(f));
	assert_int_equal(csc_rec_replay(&rec, &fake_ops, &f), 0);
	assert_non_null(strstr(f.log, "mac 02:00:00:00:00:02;"));
	assert_null(strstr(f.log, "mac 02:00:00:00:00:01"));
}

static void test_replay_down_and_uninit(void **state)
{
	struct csc_rec rec;
	struct fake f = { 0 };
	(void)state;

	csc_rec_init(&rec);
	assert_int_equal(csc_rec_replay(&rec, &fake_ops, &f), 0);
	assert_string_equal(f.log, "");		/* never initialised: leave the VF alone */

	drive_to_up(&rec);
	assert_int_equal(csc_opset_begin(&rec, CSC_OP_DOWN), 0);
	assert_int_equal(csc_opset_end(&rec, CSC_OP_DOWN), 0);
	assert_int_equal(csc_rec_replay(&rec, &fake_ops, &f), 0);
	/* Settings survive down; rings and interrupts wait for the next up. */
	assert_string_equal(f.log, "reset;mac 02:00:00:00:00:01;mc 3 first 0a last 0c;lpe 9018;down;");

	/* Without restore_regs the rest is the same. */
	struct csc_replay_ops ops = fake_ops;
	ops.restore_regs = NULL;
	drive_to_up(&rec);
	memset(&f, 0, sizeof(f));
	assert_int_equal(csc_rec_replay(&rec, &ops, &f), 0);
	assert_null(strstr(f.log, "regs"));
	assert_non_null(strstr(f.log, "196 196 196;up;"));
}

static void test_replay_mid_opset(void **state)
{
	struct csc_rec rec;
	struct fake f = { 0 };
	(void)state;

	/* Taken in the middle of SET_MAC, after the new MAC was recorded:
	 * the op set is completed on the new VF (roll forward). */
	drive_to_up(&rec);
	assert_int_equal(csc_opset_begin(&rec, CSC_OP_SET_MAC), 0);
	assert_int_equal(csc_rec_mac(&rec, MAC2), 0);
	struct csc_rec snapshot = rec;	/* what the hypervisor would carry */
	assert_int_equal(csc_rec_replay(&snapshot, &fake_ops, &f), 0);
	assert_non_null(strstr(f.log, "reset;mac 02:00:00:00:00:02;"));
	assert_non_null(strstr(f.log, ";up;"));
	assert_int_equal(snapshot.in_progress, CSC_OP_NONE);
	assert_int_equal(snapshot.state, CSC_IF_UP);
	assert_int_equal(snapshot.seq, rec.seq + 1);

	/* In the middle of DOWN: the VF ends down. */
	snapshot = rec;
	csc_opset_abort(&snapshot);
	assert_int_equal(csc_opset_begin(&snapshot, CSC_OP_DOWN), 0);
	memset(&f, 0, sizeof(f));
	assert_int_equal(csc_rec_replay(&snapshot, &fake_ops, &f), 0);
	assert_string_equal(f.log, "reset;mac 02:00:00:00:00:02;mc 3 first 0a last 0c;lpe 9018;down;");
	assert_int_equal(snapshot.state, CSC_IF_DOWN);

	/* In the middle of UP, with only the TX ring recorded so far: up
	 * with what is known (the RX ring and interrupts from before). */
	snapshot = rec;
	csc_opset_abort(&snapshot);
	assert_int_equal(csc_opset_begin(&snapshot, CSC_OP_DOWN), 0);
	assert_int_equal(csc_opset_end(&snapshot, CSC_OP_DOWN), 0);
	assert_int_equal(csc_opset_begin(&snapshot, CSC_OP_UP), 0);
	assert_int_equal(csc_rec_ring(&snapshot, CSC_RING_TX, 0, TX_BASE + 0x1000, 512 * 16, 2048), 0);
	memset(&f, 0, sizeof(f));
	assert_int_equal(csc_rec_replay(&snapshot, &fake_ops, &f), 0);
	assert_non_null(strstr(f.log, "ring tx0 0x202000 8192 2048;ring rx0 0x200000 4096 2048;intr"));
	assert_int_equal(snapshot.state, CSC_IF_UP);

	/* In the middle of the very first INIT: reset, and down. */
	csc_rec_init(&snapshot);
	assert_int_equal(csc_opset_begin(&snapshot, CSC_OP_INIT), 0);
	memset(&f, 0, sizeof(f));
	assert_int_equal(csc_rec_replay(&snapshot, &fake_ops, &f), 0);
	assert_string_equal(f.log, "reset;down;");
	assert_int_equal(snapshot.state, CSC_IF_DOWN);

	/* A damaged record (op set not valid from its state) falls back to
	 * the committed state. */
	drive_to_up(&snapshot);
	snapshot.in_progress = CSC_OP_CONFIG_RINGS;
	memset(&f, 0, sizeof(f));
	assert_int_equal(csc_rec_replay(&snapshot, &fake_ops, &f), 0);
	assert_string_equal(f.log, UP_REPLAY);
	assert_int_equal(snapshot.in_progress, CSC_OP_NONE);
}

static void test_replay_errors(void **state)
{
	struct csc_rec rec, before;
	struct fake f = { 0 };
	(void)state;

	drive_to_up(&rec);
	assert_int_equal(csc_opset_begin(&rec, CSC_OP_SET_MAC), 0);
	before = rec;
	/* A failing operation stops the replay; the record is unchanged. */
	for (int at = 1; at <= 9; at++) {
		memset(&f, 0, sizeof(f));
		f.fail_at = at;
		assert_int_equal(csc_rec_replay(&rec, &fake_ops, &f), -EIO);
		assert_int_equal(f.calls, at);
		assert_memory_equal(&rec, &before, sizeof(rec));
	}
	/* And then it can be retried. */
	memset(&f, 0, sizeof(f));
	assert_int_equal(csc_rec_replay(&rec, &fake_ops, &f), 0);
	assert_string_equal(f.log, UP_REPLAY);

	/* A missing required operation: refused before any call. */
	struct csc_replay_ops ops = fake_ops;
	ops.set_lpe = NULL;
	memset(&f, 0, sizeof(f));
	assert_int_equal(csc_rec_replay(&rec, &ops, &f), -EINVAL);
	assert_int_equal(f.calls, 0);
	assert_int_equal(csc_rec_replay(&rec, NULL, &f), -EINVAL);
}

static void test_size(void **state)
{
	(void)state;
	assert_int_equal(csc_rec_size(), sizeof(struct csc_rec));
	assert_true(csc_rec_size() < 4096);
	assert_int_equal(csc_rec_size(), 344);
	print_message("# recorded state: %zu bytes\n", csc_rec_size());
}

static void test_write_ok(void **state)
{
	struct csc_rec rec;
	(void)state;

	csc_rec_init(&rec);
	/* Op-set registers belong inside op sets; the rest anywhere. */
	assert_false(csc_opset_write_ok(&rec, VF_CTRL));
	assert_false(csc_opset_write_ok(&rec, VF_RDBAL(0)));
	assert_false(csc_opset_write_ok(&rec, VF_V2PMAILBOX));
	assert_true(csc_opset_write_ok(&rec, VF_RDT(0)));
	assert_true(csc_opset_write_ok(&rec, VF_EIMS));
	assert_true(csc_opset_write_ok(&rec, VF_EITR(0)));
	assert_int_equal(csc_opset_begin(&rec, CSC_OP_INIT), 0);
	assert_true(csc_opset_write_ok(&rec, VF_CTRL));
}

/* ---- the check of an untrusted record ------------------------------------ */

static void expect_invalid(const struct csc_rec *rec, const char *want)
{
	char err[200];

	assert_int_equal(csc_rec_validate(rec, 64ull << 20, err, sizeof(err)), -EINVAL);
	if (!strstr(err, want))
		fail_msg("error '%s' does not mention '%s'", err, want);
}

static void test_validate(void **state)
{
	struct csc_rec good, r;
	char err[200];
	(void)state;

	drive_to_up(&good);
	assert_int_equal(csc_rec_validate(&good, 64ull << 20, err, sizeof(err)), 0);
	csc_rec_init(&r);
	assert_int_equal(csc_rec_validate(&r, 64ull << 20, err, sizeof(err)), 0);

	r = good, r.state = 3;
	expect_invalid(&r, "interface state 3 unknown");
	r = good, r.in_progress = 77;
	expect_invalid(&r, "op set in progress 77 unknown");
	r = good, r.in_progress = CSC_OP_INIT;
	expect_invalid(&r, "op set init in progress is not allowed in state up");
	r = good, r.have |= 0x100;
	expect_invalid(&r, "settings mask");
	r = good, r.mc_count = 31;
	expect_invalid(&r, "multicast count 31 exceeds 30");
	r = good, r.max_frame = 10;
	expect_invalid(&r, "max frame 10");
	r = good, r.mac[0] = 0x01;
	expect_invalid(&r, "unicast");
	r = good, r.rings[2].valid = 2;
	expect_invalid(&r, "ring 2: valid flag");
	r = good, r.rings[2].queue = 1;
	expect_invalid(&r, "ring 2: direction/queue");
	r = good, r.rings[2].len = 100;
	expect_invalid(&r, "ring 2: length");
	r = good, r.rings[0].base = 0x1001;
	expect_invalid(&r, "ring 0: base");
	r = good, r.rings[2].buf_size = 0;
	expect_invalid(&r, "ring 2: RX buffer size");
	r = good, r.rings[0].base = (64ull << 20) - 2048;
	expect_invalid(&r, "ring 0: descriptors at 0x3fff800 + 0x1000 are beyond guest RAM");
	r = good, r.rings[0].base = 0xffffffffffffffe0ull;
	expect_invalid(&r, "beyond guest RAM");
	/* No buffer for the message is fine. */
	assert_int_equal(csc_rec_validate(&r, 64ull << 20, NULL, 0), -EINVAL);
	assert_int_equal(csc_rec_validate(&r, 64ull << 20, err, 1), -EINVAL);
	assert_string_equal(err, "");
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(csc_opset_name(CSC_OP_SET_MC), "set-multicast");
	assert_string_equal(csc_opset_name((enum csc_opset)99), "?");
	assert_string_equal(csc_if_state_name(CSC_IF_UNINIT), "uninitialised");
	assert_string_equal(csc_if_state_name((enum csc_if_state)9), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transition_table),
		cmocka_unit_test(test_begin_end),
		cmocka_unit_test(test_recording_rules),
		cmocka_unit_test(test_multicast_cut_to_30),
		cmocka_unit_test(test_replay_up),
		cmocka_unit_test(test_replay_down_and_uninit),
		cmocka_unit_test(test_replay_mid_opset),
		cmocka_unit_test(test_replay_errors),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_write_ok),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
