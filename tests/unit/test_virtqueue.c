/* Device-side virtqueue handling without KVM: descriptor chains, index
 * wrap-around, event-index notification, dirty marking, and every kind of
 * malformed chain rejected (never a crash). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../vmm/virtio/virtqueue.h"

#define RAM (1u << 20)
#define QN 8
#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000

static uint8_t *ram;
static struct vq_mem mem;
static uint64_t dirty_lo, dirty_hi;
static unsigned dirty_calls;

static void on_dirty(void *opaque, uint64_t gpa, uint64_t len)
{
	(void)opaque;
	dirty_calls++;
	if (gpa < dirty_lo)
		dirty_lo = gpa;
	if (gpa + len > dirty_hi)
		dirty_hi = gpa + len;
}

static struct virtq_desc *desc(unsigned i) { return (struct virtq_desc *)(ram + DESC) + i; }
static struct virtq_avail *avail(void) { return (struct virtq_avail *)(ram + AVAIL); }
static struct virtq_used *used(void) { return (struct virtq_used *)(ram + USED); }

static void set_desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	*desc(i) = (struct virtq_desc){ addr, len, flags, next };
}

static void offer(uint16_t head)
{
	struct virtq_avail *a = avail();
	a->ring[a->idx % QN] = head;
	a->idx++;
}

static int setup(void **state)
{
	static struct virtqueue vq;

	ram = calloc(1, RAM);
	mem = (struct vq_mem){ ram, RAM, on_dirty, NULL };
	dirty_lo = UINT64_MAX;
	dirty_hi = 0;
	dirty_calls = 0;
	vq_reset(&vq);
	vq.num = QN;
	vq.desc_gpa = DESC;
	vq.avail_gpa = AVAIL;
	vq.used_gpa = USED;
	assert_int_equal(vq_activate(&vq, &mem), 0);
	*state = &vq;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(ram);
	return 0;
}

static void test_chain_split(void **state)
{
	struct virtqueue *vq = *state;
	struct vq_chain c;

	set_desc(0, 0x10000, 12, VIRTQ_DESC_F_NEXT, 3);
	set_desc(3, 0x11000, 100, VIRTQ_DESC_F_NEXT, 5);
	set_desc(5, 0x20000, 2048, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	assert_int_equal(vq_avail_count(vq), 1);
	assert_int_equal(vq_pop(vq, &c), 1);
	assert_int_equal(c.head, 0);
	assert_int_equal(c.n_out, 2);
	assert_int_equal(c.n_in, 1);
	assert_int_equal(c.out_len, 112);
	assert_int_equal(c.in_len, 2048);
	assert_ptr_equal(c.out[1].iov_base, ram + 0x11000);
	assert_int_equal(vq_pop(vq, &c), 0);
}

static void test_push_publish_marks_dirty(void **state)
{
	struct virtqueue *vq = *state;
	struct vq_chain c;

	set_desc(2, 0x20000, 1000, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 4);
	set_desc(4, 0x30000, 1000, VIRTQ_DESC_F_WRITE, 0);
	offer(2);
	assert_int_equal(vq_pop(vq, &c), 1);
	uint8_t src[1500];
	memset(src, 0xab, sizeof(src));
	assert_int_equal(vq_chain_write(vq, &c, 0, src, sizeof(src)), 1500);
	assert_int_equal(ram[0x20000 + 999], 0xab);
	assert_int_equal(ram[0x30000 + 499], 0xab);
	assert_int_equal(ram[0x30000 + 500], 0);
	assert_true(dirty_lo <= 0x20000 && dirty_hi >= 0x30000 + 500);
	vq_push(vq, c.head, 1500);
	assert_int_equal(used()->idx, 0);	/* not visible before publish */
	vq_publish(vq);
	assert_int_equal(used()->idx, 1);
	assert_int_equal(used()->ring[0].id, 2);
	assert_int_equal(used()->ring[0].len, 1500);
	assert_true(dirty_lo <= USED);
	/* A write past the chain's end is cut, not overflowed. */
	assert_int_equal(vq_chain_write(vq, &c, 1900, src, 500), 100);
}

static void test_index_wrap(void **state)
{
	struct virtqueue *vq = *state;
	struct vq_chain c;

	/* Start just below the 16-bit wrap and run 3 rings' worth through. */
	vq->last_avail = vq->used_idx = 65530;
	avail()->idx = 65530;
	used()->idx = 65530;
	for (unsigned i = 0; i < 3 * QN; i++) {
		uint16_t head = (uint16_t)(i % QN);
		set_desc(head, 0x40000 + 0x1000 * head, 64, VIRTQ_DESC_F_WRITE, 0);
		offer(head);
		assert_int_equal(vq_pop(vq, &c), 1);
		assert_int_equal(c.head, head);
		vq_push(vq, c.head, 64);
		vq_publish(vq);
	}
	assert_int_equal(vq->last_avail, (uint16_t)(65530 + 3 * QN));
	assert_int_equal(used()->idx, (uint16_t)(65530 + 3 * QN));
	assert_int_equal(vq_pop(vq, &c), 0);
}

static void expect_malformed(struct virtqueue *vq)
{
	struct vq_chain c;
	uint16_t before = vq->last_avail;

	assert_int_equal(vq_pop(vq, &c), -EPROTO);
	assert_int_equal(vq->last_avail, before);	/* nothing consumed */
}

static void test_loop_rejected(void **state)
{
	set_desc(0, 0x10000, 10, VIRTQ_DESC_F_NEXT, 1);
	set_desc(1, 0x10000, 10, VIRTQ_DESC_F_NEXT, 0);
	offer(0);
	expect_malformed(*state);
}

static void test_self_loop_rejected(void **state)
{
	set_desc(6, 0x10000, 10, VIRTQ_DESC_F_NEXT, 6);
	offer(6);
	expect_malformed(*state);
}

static void test_next_out_of_range(void **state)
{
	set_desc(0, 0x10000, 10, VIRTQ_DESC_F_NEXT, QN);
	offer(0);
	expect_malformed(*state);
}

static void test_head_out_of_range(void **state)
{
	offer(QN + 3);
	expect_malformed(*state);
}

static void test_buffer_outside_ram(void **state)
{
	set_desc(0, RAM - 10, 11, 0, 0);	/* one byte past the end */
	offer(0);
	expect_malformed(*state);
}

static void test_buffer_address_wraps(void **state)
{
	set_desc(0, UINT64_MAX - 5, 100, 0, 0);
	offer(0);
	expect_malformed(*state);
}

static void test_readable_after_writable(void **state)
{
	set_desc(0, 0x10000, 10, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	set_desc(1, 0x11000, 10, 0, 0);
	offer(0);
	expect_malformed(*state);
}

static void test_indirect_rejected(void **state)
{
	set_desc(0, 0x10000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	expect_malformed(*state);
}

static void test_avail_index_too_far(void **state)
{
	struct virtqueue *vq = *state;

	avail()->idx = QN + 1;	/* more entries than the ring holds */
	assert_int_equal(vq_avail_count(vq), -EPROTO);
	expect_malformed(vq);
}

static void test_activate_checks(void **state)
{
	struct virtqueue *vq = *state;
	struct virtqueue bad = *vq;

	bad.num = 6;	/* not a power of two */
	assert_int_equal(vq_activate(&bad, &mem), -EINVAL);
	bad = *vq;
	bad.num = 0;
	assert_int_equal(vq_activate(&bad, &mem), -EINVAL);
	bad = *vq;
	bad.desc_gpa = DESC + 8;	/* descriptors need 16-byte alignment */
	assert_int_equal(vq_activate(&bad, &mem), -EINVAL);
	bad = *vq;
	bad.used_gpa = RAM - 16;	/* used ring does not fit */
	assert_int_equal(vq_activate(&bad, &mem), -EINVAL);
	bad = *vq;
	bad.avail_gpa = 0xfffffffffffff000ull;
	assert_int_equal(vq_activate(&bad, &mem), -EINVAL);
	assert_false(bad.active);
}

static void test_event_idx(void **state)
{
	struct virtqueue *vq = *state;
	struct vq_chain c;
	uint16_t *used_event = &avail()->ring[QN];

	vq->event_idx = true;
	for (unsigned i = 0; i < 4; i++) {
		set_desc(i, 0x10000, 64, VIRTQ_DESC_F_WRITE, 0);
		offer((uint16_t)i);
	}
	*used_event = 2;	/* interrupt when entry 2 is used */
	assert_int_equal(vq_pop(vq, &c), 1);
	vq_push(vq, c.head, 1);
	vq_publish(vq);
	assert_true(vq_should_notify(vq));	/* the first one always */
	assert_int_equal(vq_pop(vq, &c), 1);
	vq_push(vq, c.head, 1);
	vq_publish(vq);
	assert_false(vq_should_notify(vq));	/* used idx 2: event 2 not passed */
	assert_int_equal(vq_pop(vq, &c), 1);
	vq_push(vq, c.head, 1);
	vq_publish(vq);
	assert_true(vq_should_notify(vq));	/* entry 2 used */
	/* Kicks: the device publishes where it wants the next one. */
	assert_true(vq_enable_kicks(vq));	/* one entry still available */
	uint16_t avail_event;
	memcpy(&avail_event, ram + USED + 4 + 8 * QN, 2);
	assert_int_equal(avail_event, vq->last_avail);
}

static void test_no_interrupt_flag(void **state)
{
	struct virtqueue *vq = *state;

	avail()->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
	assert_false(vq_should_notify(vq));
	avail()->flags = 0;
	assert_true(vq_should_notify(vq));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_chain_split, setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_publish_marks_dirty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_wrap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loop_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_self_loop_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_next_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_buffer_outside_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_buffer_address_wraps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readable_after_writable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_avail_index_too_far, setup, teardown),
		cmocka_unit_test_setup_teardown(test_activate_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_idx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_interrupt_flag, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
