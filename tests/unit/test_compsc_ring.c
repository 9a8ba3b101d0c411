/* CompSC descriptor ring offset (compsc/ring.c): index mapping both ways,
 * and the restoration of a ring so that the destination's hardware owns
 * exactly the descriptors the source still owned. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "../../common/csc_errno.h"
#include "../../compsc/ring.h"

static void test_mapping_round_trip(void **state)
{
	(void)state;
	const uint32_t sizes[] = { 1, 8, 256, 4096, 65528 };
	for (unsigned s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		uint32_t n = sizes[s];
		for (uint32_t off = 0; off < n; off += (n / 7) + 1) {
			struct csc_ring_map m = { .size = n, .offset = off };
			for (uint32_t sw = 0; sw < n; sw += (n / 13) + 1) {
				uint32_t hw = csc_ring_sw_to_hw(&m, sw);
				assert_true(hw < n);
				assert_int_equal(csc_ring_hw_to_sw(&m, hw), sw);
				assert_int_equal((hw + off) % n, sw);
			}
		}
	}
	/* Offset 0 (before any migration) is the identity. */
	struct csc_ring_map id = { .size = 256, .offset = 0 };
	assert_int_equal(csc_ring_sw_to_hw(&id, 17), 17);
	/* Wrap-around: sw 2 with offset 250 is hw 8. */
	struct csc_ring_map m = { .size = 256, .offset = 250 };
	assert_int_equal(csc_ring_sw_to_hw(&m, 2), 8);
	assert_int_equal(csc_ring_hw_to_sw(&m, 8), 2);
	assert_int_equal(csc_ring_hw_to_sw(&m, 0), 250);
}

/* What the destination's hardware works through after restoration: from
 * head 0 to the tail, each hw index mapped back to the software ring. */
static unsigned hw_owned(uint32_t size, const struct csc_ring_restore *r, uint32_t *sw_list)
{
	struct csc_ring_map m = { .size = size, .offset = r->offset };
	unsigned n = 0;

	for (uint32_t hw = r->head; hw != r->tail; hw = (hw + 1) % size)
		sw_list[n++] = csc_ring_hw_to_sw(&m, hw);
	return n;
}

static void check_owned(uint32_t size, uint32_t ntc, uint32_t ntu, uint32_t completed)
{
	struct csc_ring_restore r;
	uint32_t *list = calloc(size, sizeof(*list));
	assert_non_null(list);

	assert_int_equal(csc_ring_restore(size, ntc, ntu, completed, &r), 0);
	assert_int_equal(r.head, 0);
	assert_true(r.offset < size && r.tail < size);
	unsigned n = hw_owned(size, &r, list);
	/* Exactly [ntc + completed, ntu) of the software ring, in order. */
	uint32_t owned = (ntu + size - ntc) % size;
	assert_int_equal(n, owned - completed);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(list[i], (ntc + completed + i) % size);
	free(list);
}

static void test_tx_in_flight_survive(void **state)
{
	(void)state;
	/* 15 posted, none done: all 15 are sent by the destination. */
	check_owned(256, 5, 20, 0);
	/* 2 of them done on the source (DD set, not reaped): not sent again. */
	check_owned(256, 5, 20, 2);
	struct csc_ring_restore r;
	assert_int_equal(csc_ring_restore(256, 5, 20, 2, &r), 0);
	assert_int_equal(r.offset, 7);
	assert_int_equal(r.tail, 13);
	/* Posted frames across the end of the ring. */
	check_owned(256, 250, 10, 0);
	check_owned(256, 250, 10, 9);	/* completed ones cross the end too */
	assert_int_equal(csc_ring_restore(256, 250, 10, 9, &r), 0);
	assert_int_equal(r.offset, 3);
	assert_int_equal(r.tail, 7);
}

static void test_rx_posted_buffers_survive(void **state)
{
	struct csc_ring_restore r;
	(void)state;

	/* igbvf keeps one descriptor back: RDT = next_to_use = ntc - 1. */
	check_owned(256, 10, 9, 0);
	assert_int_equal(csc_ring_restore(256, 10, 9, 0, &r), 0);
	assert_int_equal(r.offset, 10);
	assert_int_equal(r.tail, 255);
	/* Three frames received on the source, not yet handed up: the
	 * destination must not overwrite them. */
	check_owned(256, 10, 9, 3);
	assert_int_equal(csc_ring_restore(256, 10, 9, 3, &r), 0);
	assert_int_equal(r.offset, 13);
	assert_int_equal(r.tail, 252);
	/* Right at the end of the ring. */
	check_owned(256, 0, 255, 0);
	check_owned(256, 255, 254, 1);
}

static void test_full_and_empty(void **state)
{
	struct csc_ring_restore r;
	(void)state;

	/* Empty: the hardware owns nothing, head == tail. */
	assert_int_equal(csc_ring_restore(256, 77, 77, 0, &r), 0);
	assert_int_equal(r.offset, 77);
	assert_int_equal(r.tail, 0);
	check_owned(256, 0, 0, 0);
	/* Full (size - 1 owned): still exact. */
	check_owned(256, 77, 76, 0);
	check_owned(256, 77, 76, 255);	/* all done: the hardware owns none */
	assert_int_equal(csc_ring_restore(256, 77, 76, 255, &r), 0);
	assert_int_equal(r.tail, 0);
	/* A ring of 8, the smallest RDLEN. */
	for (uint32_t ntc = 0; ntc < 8; ntc++)
		for (uint32_t ntu = 0; ntu < 8; ntu++)
			for (uint32_t c = 0; c <= (ntu + 8 - ntc) % 8; c++)
				check_owned(8, ntc, ntu, c);
}

static void test_bad_input(void **state)
{
	struct csc_ring_restore r;
	(void)state;

	assert_int_equal(csc_ring_restore(0, 0, 0, 0, &r), -EINVAL);
	assert_int_equal(csc_ring_restore(256, 256, 0, 0, &r), -EINVAL);
	assert_int_equal(csc_ring_restore(256, 0, 300, 0, &r), -EINVAL);
	/* More done than were in flight. */
	assert_int_equal(csc_ring_restore(256, 5, 20, 16, &r), -EINVAL);
	assert_int_equal(csc_ring_restore(256, 5, 5, 1, &r), -EINVAL);
	/* Largest sizes do not overflow. */
	assert_int_equal(csc_ring_restore(0xffffffffu, 0xfffffffeu, 3, 4, &r), 0);
	assert_int_equal(r.offset, 3);
	assert_int_equal(r.tail, 0);
	assert_int_equal(csc_ring_restore(0xffffffffu, 0xfffffffeu, 3, 1, &r), 0);
	assert_int_equal(r.offset, 0);	/* 0xffffffff is 0 in a ring of that size */
	assert_int_equal(r.tail, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mapping_round_trip),
		cmocka_unit_test(test_tx_in_flight_survive),
		cmocka_unit_test(test_rx_posted_buffers_survive),
		cmocka_unit_test(test_full_and_empty),
		cmocka_unit_test(test_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
