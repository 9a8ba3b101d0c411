/* virtio-net without KVM: the device model (transport registers, queues,
 * configuration) driven through its MMIO window as a driver would, its
 * state saved and loaded byte for byte, and corrupt states refused with the
 * device left exactly as it was. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/log.h"
#include "../../common/virtio.h"
#include "../../vmm/virtio/net_internal.h"

#define RAM (1u << 20)
#define QSIZE 256

static uint8_t *ram;
static struct vq_mem mem;
static struct virtio_net *a, *b;

static void wr(struct virtio_net *n, uint64_t off, uint32_t v)
{
	virtio_mmio_access(&n->mmio, off, (uint8_t *)&v, 4, true);
}

static uint32_t rd(struct virtio_net *n, uint64_t off)
{
	uint32_t v;

	virtio_mmio_access(&n->mmio, off, (uint8_t *)&v, 4, false);
	return v;
}

/* The virtio 1.x initialisation sequence (spec 3.1.1), rings at base. */
static void driver_init(struct virtio_net *n, uint64_t base)
{
	wr(n, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(n, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(n, VIRTIO_MMIO_DRIVER_FEATURES, (1u << VIRTIO_NET_F_MAC) | (1u << VIRTIO_RING_F_EVENT_IDX));
	wr(n, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(n, VIRTIO_MMIO_DRIVER_FEATURES, 1u << (VIRTIO_F_VERSION_1 - 32));
	wr(n, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	assert_true(rd(n, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK);
	for (uint32_t q = 0; q < 2; q++) {
		uint64_t d = base + q * 0x10000;
		wr(n, VIRTIO_MMIO_QUEUE_SEL, q);
		assert_int_equal(rd(n, VIRTIO_MMIO_QUEUE_NUM_MAX), VIRTIO_NET_QUEUE_SIZE);
		wr(n, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
		wr(n, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)d);
		wr(n, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)(d + 0x1000));
		wr(n, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)(d + 0x2000));
		wr(n, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	wr(n, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
					  VIRTIO_STATUS_DRIVER_OK);
}

static int setup(void **state)
{
	struct virtio_net_opts oa = { .tap = "t0", .mac = { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee }, .has_mac = 1 };
	struct virtio_net_opts ob = { .tap = "t1" };

	(void)state;
	log_init("test", LOG_ERROR);
	ram = calloc(1, RAM);
	mem = (struct vq_mem){ ram, RAM, NULL, NULL };
	a = virtio_net_model_create(&oa, 0, &mem);
	b = virtio_net_model_create(&ob, 0, &mem);
	assert_non_null(a);
	assert_non_null(b);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	virtio_net_destroy(a);
	virtio_net_destroy(b);
	free(ram);
	return 0;
}

static void save(struct virtio_net *n, uint8_t *buf)
{
	size_t len = 0;

	assert_int_equal(virtio_net_save_state(n, buf, VIRTIO_NET_STATE_LEN, &len), 0);
	assert_int_equal(len, VIRTIO_NET_STATE_LEN);
}

static void test_driver_init(void **state)
{
	uint8_t cfg[8];
	(void)state;

	assert_int_equal(rd(a, VIRTIO_MMIO_MAGIC_VALUE), VIRTIO_MMIO_MAGIC);
	assert_int_equal(rd(a, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_NET);
	driver_init(a, 0x10000);
	assert_true(virtio_mmio_live(&a->mmio));
	/* Configuration space: the MAC from the options, link up. */
	virtio_mmio_access(&a->mmio, VIRTIO_MMIO_CONFIG, cfg, 8, false);
	assert_memory_equal(cfg, "\x02\xaa\xbb\xcc\xdd\xee\x01\x00", 8);
	/* A ring outside RAM: the device needs a reset, and gets one. */
	wr(b, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(b, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
	wr(b, VIRTIO_MMIO_QUEUE_DESC_LOW, RAM - 16);
	wr(b, VIRTIO_MMIO_QUEUE_READY, 1);
	assert_true(rd(b, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	assert_true(rd(b, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	wr(b, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(rd(b, VIRTIO_MMIO_STATUS), 0);
	assert_false(b->mmio.broken);
	/* FEATURES_OK is refused to a driver without VERSION_1. */
	wr(b, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	assert_false(rd(b, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK);
}

static void test_state_roundtrip(void **state)
{
	uint8_t s1[VIRTIO_NET_STATE_LEN], s2[VIRTIO_NET_STATE_LEN];
	char err[256] = "";
	(void)state;

	driver_init(a, 0x10000);
	/* Progress in the rings, as traffic leaves it. */
	a->mmio.vq[0].last_avail = 70;
	a->mmio.vq[0].used_idx = 65;
	a->mmio.vq[1].last_avail = a->mmio.vq[1].used_idx = 0xfff0;
	a->mmio.vq[1].signalled_used = 0xffe0;
	a->mmio.vq[1].signalled_valid = true;
	a->mmio.isr = VIRTIO_MMIO_INT_VRING;
	a->mmio.config_generation = 3;
	save(a, s1);

	/* Fixed little-endian fields, not a host struct. */
	assert_int_equal(s1[0], VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
				       VIRTIO_STATUS_DRIVER_OK);
	assert_memory_equal(s1 + 32, "\x02\x00\x00\x00", 4);	/* two queues */
	assert_memory_equal(s1 + 36, "\x00\x00\x01\x00\x00\x00\x00\x00", 8);	/* queue 0 desc 0x10000 */
	assert_memory_equal(s1 + 36 + 26, "\x46\x00\x41\x00", 4);	/* last_avail 70, used_idx 65 */
	assert_memory_equal(s1 + 108, "\x01\x00\x02\xaa\xbb\xcc\xdd\xee", 8);

	assert_int_equal(virtio_net_load_state(b, VIRTIO_NET_STATE_VERSION, s1, sizeof(s1), err, sizeof(err)), 0);
	save(b, s2);
	assert_memory_equal(s1, s2, sizeof(s1));
	/* Loaded queues are live against this RAM, and the device waits for
	 * activation before it moves any frame. */
	assert_true(virtio_mmio_live(&b->mmio));
	assert_true(b->mmio.vq[1].event_idx);
	assert_true(b->quiesced);
	virtio_net_resume(b);
	assert_false(b->quiesced);
	wr(b, VIRTIO_MMIO_QUEUE_SEL, 1);
	assert_int_equal(rd(b, VIRTIO_MMIO_QUEUE_NUM), QSIZE);
	assert_int_equal(rd(b, VIRTIO_MMIO_QUEUE_DESC_LOW), 0x20000);
}

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }

static void test_corrupt_state_refused(void **state)
{
	uint8_t good[VIRTIO_NET_STATE_LEN], bad[VIRTIO_NET_STATE_LEN + 1], before[VIRTIO_NET_STATE_LEN],
		after[VIRTIO_NET_STATE_LEN];
	char err[256];
	(void)state;

	driver_init(a, 0x10000);
	a->mmio.vq[0].last_avail = 10;
	save(a, good);
	driver_init(b, 0x40000);	/* b runs with a state of its own */
	save(b, before);

	enum { Q0 = 36, Q1 = 72, CFG = 108 };
	for (int c = 0; c < 14; c++) {
		uint32_t version = VIRTIO_NET_STATE_VERSION;
		size_t len = sizeof(good);
		int want = -EINVAL;
		memcpy(bad, good, sizeof(good));
		bad[sizeof(good)] = 0;
		switch (c) {
		case 0: version = 1; want = -EPROTO; break;		/* the old host-struct copy */
		case 1: version = 3; want = -EPROTO; break;
		case 2: len--; want = -EPROTO; break;
		case 3: len++; want = -EPROTO; break;
		case 4: bad[16] |= 1; break;				/* a feature never offered */
		case 5: bad[20] = 0; break;				/* FEATURES_OK without VERSION_1 */
		case 6: put32(bad + 24, 4); break;			/* unknown interrupt bit */
		case 7: put32(bad + 32, 3); break;			/* three queues */
		case 8: put32(bad + Q1 + 32, 5); break;			/* unknown queue flag */
		case 9: put32(bad + Q0 + 0, RAM - 16); break;		/* ring past the end of RAM */
		case 10: put16(bad + Q1 + 24, 100); break;		/* not a power of two */
		case 11: put16(bad + Q0 + 28, 9000); break;		/* more in flight than the ring holds */
		case 12: put16(bad + CFG, 2); break;			/* unknown link status bit */
		case 13: bad[CFG + 2] |= 1; break;			/* multicast MAC */
		}
		err[0] = '\0';
		assert_int_equal(virtio_net_load_state(b, version, bad, len, err, sizeof(err)), want);
		assert_true(strlen(err) > 0);
		save(b, after);
		assert_memory_equal(before, after, sizeof(before));
		assert_false(b->quiesced);
		assert_true(virtio_mmio_live(&b->mmio));
	}
	/* The good state still loads after all that. */
	assert_int_equal(virtio_net_load_state(b, VIRTIO_NET_STATE_VERSION, good, sizeof(good), err, sizeof(err)), 0);
	save(b, after);
	assert_memory_equal(good, after, sizeof(good));
}

static void test_save_needs_room(void **state)
{
	uint8_t buf[VIRTIO_NET_STATE_LEN];
	size_t len = 0;
	(void)state;

	assert_int_equal(virtio_net_save_state(a, buf, sizeof(buf) - 1, &len), -ENOSPC);
	assert_int_equal(len, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_driver_init, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_state_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_save_needs_room, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
