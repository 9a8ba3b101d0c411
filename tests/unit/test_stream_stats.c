/* compsc-peer's stream accounting on synthetic input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../tools/peer/stream_stats.h"

static struct stream_stats s;

static int setup(void **state)
{
	(void)state;
	return ss_init(&s, 100000, 10);	/* 100 ms buckets, 1024-seq window */
}

static int teardown(void **state)
{
	(void)state;
	ss_free(&s);
	return 0;
}

static void test_in_order(void **state)
{
	(void)state;
	for (uint64_t i = 0; i < 1000; i++)
		ss_record(&s, i, 100, i * 1000);	/* 1000/s */
	assert_int_equal(s.unique, 1000);
	assert_int_equal(ss_missed(&s, 1000), 0);
	assert_int_equal(ss_missed(&s, 0), 0);
	assert_int_equal(s.duplicates, 0);
	assert_int_equal(s.reordered, 0);
	assert_int_equal(s.longest_gap_us, 1000);
	assert_int_equal(s.n_buckets, 10);
	assert_int_equal(s.buckets[0].packets, 100);
	assert_int_equal(s.buckets[9].bytes, 100 * 100);
}

static void test_gap_is_downtime(void **state)
{
	(void)state;
	uint64_t t = 0;
	for (uint64_t i = 0; i < 100; i++, t += 1000)
		ss_record(&s, i, 64, t);
	t += 250000;	/* 250 ms outage, 250 datagrams lost */
	for (uint64_t i = 350; i < 400; i++, t += 1000)
		ss_record(&s, i, 64, t);
	assert_int_equal(s.unique, 150);
	assert_int_equal(ss_missed(&s, 400), 250);
	assert_int_equal(ss_missed(&s, 0), 250);
	assert_int_equal(s.longest_gap_us, 251000);
	assert_int_equal(s.longest_gap_at_us, 99000);
	/* Buckets during the outage are empty. */
	assert_int_equal(s.buckets[2].packets, 0);
}

static void test_duplicates(void **state)
{
	(void)state;
	for (uint64_t i = 0; i < 10; i++) {
		ss_record(&s, i, 64, i * 10);
		ss_record(&s, i, 64, i * 10 + 1);
	}
	ss_record(&s, 3, 64, 500);
	assert_int_equal(s.received, 21);
	assert_int_equal(s.unique, 10);
	assert_int_equal(s.duplicates, 11);
	assert_int_equal(ss_missed(&s, 10), 0);
}

static void test_reordering(void **state)
{
	(void)state;
	static const uint64_t order[] = { 0, 2, 1, 3, 6, 5, 4, 7 };
	for (unsigned i = 0; i < 8; i++)
		ss_record(&s, order[i], 64, i);
	assert_int_equal(s.unique, 8);
	assert_int_equal(s.reordered, 3);	/* 1, 5, 4 */
	assert_int_equal(s.duplicates, 0);
	assert_int_equal(ss_missed(&s, 8), 0);
	/* A late one seen again is a duplicate, not reordering. */
	ss_record(&s, 5, 64, 9);
	assert_int_equal(s.duplicates, 1);
	assert_int_equal(s.reordered, 3);
}

static void test_window_wrap(void **state)
{
	(void)state;
	/* The bitmap is indexed modulo the window: sequence numbers that share
	 * a slot must not be mistaken for duplicates. */
	for (uint64_t i = 0; i < 5000; i++)
		ss_record(&s, i, 64, i);
	assert_int_equal(s.duplicates, 0);
	assert_int_equal(s.unique, 5000);
	ss_record(&s, 4990, 64, 6000);	/* inside the window: a duplicate */
	assert_int_equal(s.duplicates, 1);
	/* A jump larger than the window clears it, then a very old one is
	 * counted as late (unknowable), and the jump's gap as missed. */
	ss_record(&s, 100000, 64, 7000);
	assert_int_equal(s.duplicates, 1);
	ss_record(&s, 10, 64, 7001);
	assert_int_equal(s.too_old, 1);
	assert_int_equal(ss_missed(&s, 100001), 100001 - 5002);
}

static void test_late_start_and_huge_seq(void **state)
{
	(void)state;
	/* A stream that starts at a large number (the receiver joined late). */
	uint64_t base = UINT64_MAX - 100;
	for (uint64_t i = 0; i < 50; i++)
		ss_record(&s, base + i, 64, i);
	assert_int_equal(s.unique, 50);
	assert_int_equal(ss_missed(&s, 0), 0);
	assert_int_equal(s.lowest, base);
}

static void test_bad_init(void **state)
{
	struct stream_stats t;
	(void)state;
	assert_int_equal(ss_init(&t, 0, 10), -EINVAL);
	assert_int_equal(ss_init(&t, 1000, 2), -EINVAL);
	assert_int_equal(ss_init(&t, 1000, 40), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gap_is_downtime, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reordering, setup, teardown),
		cmocka_unit_test_setup_teardown(test_window_wrap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_start_and_huge_seq, setup, teardown),
		cmocka_unit_test(test_bad_init),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
