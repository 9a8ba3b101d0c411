/* CompSC self-emulated counters (compsc/counters.c): 64-bit totals from
 * 32-bit wrapping registers that never go backwards and never jump by
 * 2^32, across wraps and migrations to a new VF. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "../../common/vf82576.h"
#include "../../compsc/counters.h"
#include "../../compsc/regclass.h"

#define WRAP (1ull << 32)

static void test_counts_and_wraps(void **state)
{
	struct csc_counter c;
	(void)state;

	csc_counter_init(&c, VF_GPRC, 0);
	assert_int_equal(csc_counter_total(&c), 0);
	assert_int_equal(csc_counter_update(&c, 100), 100);
	assert_int_equal(csc_counter_update(&c, 100), 100);	/* nothing new */
	assert_int_equal(csc_counter_update(&c, 0xfffffff0u), 0xfffffff0u);
	/* Wrap: 0x10 after 0xfffffff0 is 0x20 more. */
	assert_int_equal(csc_counter_update(&c, 0x10), WRAP + 0x10);
	assert_int_equal(csc_counter_update(&c, 0xffffffffu), WRAP + 0xffffffffu);
	assert_int_equal(csc_counter_update(&c, 0), 2 * WRAP);
	assert_int_equal(c.offset, VF_GPRC);

	/* Found non-zero at probe: counted from there, as igbvf reports it. */
	csc_counter_init(&c, VF_GORC, 5000);
	assert_int_equal(csc_counter_total(&c), 5000);
	assert_int_equal(csc_counter_update(&c, 5001), 5001);
}

static void test_migration(void **state)
{
	struct csc_counter c;
	(void)state;

	csc_counter_init(&c, VF_GPTC, 0);
	csc_counter_update(&c, 123456);		/* n = 123456 on the source */
	csc_counter_migrated(&c, 0);		/* the new VF starts at 0 */
	assert_int_equal(csc_counter_total(&c), 123456);
	assert_int_equal(csc_counter_update(&c, 0), 123456);
	assert_int_equal(csc_counter_update(&c, 44), 123456 + 44);	/* n + m */
	/* And again, back to a VF that kept counting elsewhere. */
	csc_counter_migrated(&c, 0xabcdef00u);
	assert_int_equal(csc_counter_update(&c, 0xabcdef05u), 123456 + 44 + 5);
	/* The new VF's register wraps: still no jump. */
	csc_counter_update(&c, 0xfffffffeu);
	uint64_t before = csc_counter_total(&c);
	assert_int_equal(csc_counter_update(&c, 3), before + 5);
}

static void test_migration_right_after_wrap(void **state)
{
	struct csc_counter c;
	(void)state;

	csc_counter_init(&c, VF_GORC, 0xfffffff0u);
	assert_int_equal(csc_counter_update(&c, 0x8), 0xfffffff0ull + 0x18);	/* wrapped */
	uint64_t n = csc_counter_total(&c);
	csc_counter_migrated(&c, 0);
	assert_int_equal(csc_counter_total(&c), n);
	/* The old logic would see 0 < 8 and add 2^32; self-emulation does not. */
	assert_int_equal(csc_counter_update(&c, 0), n);
	assert_int_equal(csc_counter_update(&c, 7), n + 7);
}

static void test_new_vf_not_at_zero(void **state)
{
	struct csc_counter c;
	(void)state;

	/* A VF another VM used keeps its count (the NIC clears the counters
	 * only for a new VF): its first reading is the baseline. */
	csc_counter_init(&c, VF_MPRC, 0);
	csc_counter_update(&c, 10);
	csc_counter_migrated(&c, 0x90000000u);		/* larger than the total */
	assert_int_equal(csc_counter_total(&c), 10);
	assert_int_equal(csc_counter_update(&c, 0x90000001u), 11);
	/* Smaller than the last reading on the source, but no wrap happened. */
	csc_counter_init(&c, VF_MPRC, 0);
	csc_counter_update(&c, 0x7fffffffu);
	csc_counter_migrated(&c, 3);
	assert_int_equal(csc_counter_update(&c, 3), 0x7fffffffu);
	assert_int_equal(csc_counter_update(&c, 4), 0x80000000u);
}

static void test_without_self_emulation_it_jumps(void **state)
{
	struct csc_counter c;
	(void)state;

	/* The failure mode the mechanism exists for: forget csc_counter_migrated
	 * and the total jumps by almost 2^32. */
	csc_counter_init(&c, VF_GOTC, 0);
	csc_counter_update(&c, 1000);
	assert_int_equal(csc_counter_update(&c, 10), WRAP + 10);
}

/* Random readings with random migrations: the total equals the events
 * counted, so it never goes backwards and never jumps. */
static void test_random_walk(void **state)
{
	struct csc_counter c;
	uint64_t events = 0;
	uint32_t hw = 0x12345678u;	/* the current VF's register */
	(void)state;

	srand(7);
	csc_counter_init(&c, VF_GORC, hw);
	events = hw;
	for (int i = 0; i < 200000; i++) {
		int r = rand() % 100;
		if (r == 0) {
			/* Migration: the new VF stands anywhere. */
			hw = (uint32_t)rand() * 2654435761u;
			csc_counter_migrated(&c, hw);
		} else {
			/* Less than 2^32 events between readings. */
			uint32_t step = r < 5 ? (uint32_t)rand() * 3u + 0x80000000u : (uint32_t)(rand() % 100000);
			hw += step;
			events += step;
		}
		uint64_t before = csc_counter_total(&c);
		uint64_t total = csc_counter_update(&c, hw);
		assert_true(total >= before);
		assert_int_equal(total, events);
	}
}

static void test_setup_lists_the_counters(void **state)
{
	struct csc_counter list[16];
	(void)state;

	assert_int_equal(csc_counters_setup(list, 16), 9);
	for (unsigned i = 0; i < 9; i++) {
		assert_int_equal(csc_reg_class(list[i].offset), CSC_REG_COUNTER);
		assert_int_equal(list[i].base, 0);
		assert_int_equal(list[i].last_raw, 0);
	}
	assert_int_equal(list[0].offset, VF_GPRC);
	assert_int_equal(list[8].offset, VF_GOTLBC);
	assert_int_equal(csc_counters_setup(list, 4), 4);	/* bounded */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts_and_wraps),
		cmocka_unit_test(test_migration),
		cmocka_unit_test(test_migration_right_after_wrap),
		cmocka_unit_test(test_new_vf_not_at_zero),
		cmocka_unit_test(test_without_self_emulation_it_jumps),
		cmocka_unit_test(test_random_walk),
		cmocka_unit_test(test_setup_lists_the_counters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
