/* The pre-copy convergence decision (vmm/migration/precopy.h) and the
 * migration parameters' limits (mig_params_check): pure functions, driven
 * with numbers. The reason strings are the ones the log and the
 * integration tests look for. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../vmm/migration/migration.h"
#include "../../vmm/migration/precopy.h"

#define MS 1000000ull
#define MIB (1ull << 20)

/* A round that sent 100 MiB in 100 ms (1000 MiB/s), with generous
 * limits: only the estimate decides. */
static struct precopy_input base(void)
{
	return (struct precopy_input){
		.round = 1,
		.max_rounds = 30,
		.dirty_pages = 1000,
		.round_bytes = 100 * MIB,
		.round_ns = 100 * MS,
		.state_bytes = 0,
		.downtime_ms = 300,
		.elapsed_ms = 500,
		.max_precopy_ms = 60000,
	};
}

static void test_nothing_dirty(void **state)
{
	struct precopy_input in = base();
	struct precopy_decision d;
	(void)state;

	in.dirty_pages = 0;
	in.state_bytes = 10 * MIB;	/* state alone never keeps pre-copy going */
	in.downtime_ms = 0;
	assert_true(precopy_should_stop(&in, &d));
	assert_string_equal(d.why, "nothing dirty");
	assert_true(d.stop);
}

static void test_fits_budget(void **state)
{
	struct precopy_input in = base();
	struct precopy_decision d;
	(void)state;

	/* 1000 pages = 3.9 MiB at 1000 MiB/s: 3.9 ms, rounded up. */
	assert_true(precopy_should_stop(&in, &d));
	assert_string_equal(d.why, "remaining data fits the downtime budget");
	assert_int_equal(d.rate_bps, 100 * MIB * 10);
	assert_int_equal(d.remaining_bytes, 1000 * 4096);
	assert_int_equal(d.est_ms, 4);
}

static void test_over_budget_goes_on(void **state)
{
	struct precopy_input in = base();
	struct precopy_decision d;
	(void)state;

	in.dirty_pages = 100000;	/* 390 MiB: ~390 ms > 300 */
	assert_false(precopy_should_stop(&in, &d));
	assert_null(d.why);
	assert_false(d.stop);
	assert_int_equal(d.est_ms, 391);
}

static void test_budget_boundary(void **state)
{
	struct precopy_input in = base();
	struct precopy_decision d;
	(void)state;

	/* 300 ms at 1000 MiB/s is exactly 300 MiB = 76800 pages. */
	in.dirty_pages = 76800;
	assert_true(precopy_should_stop(&in, &d));
	assert_int_equal(d.est_ms, 300);
	in.dirty_pages = 76801;
	assert_false(precopy_should_stop(&in, &d));
}

/* The state sent at stop-and-copy counts: pages that fit alone do not fit
 * with 200 MiB of device state on top. */
static void test_state_counts(void **state)
{
	struct precopy_input in = base();
	struct precopy_decision d;
	(void)state;

	in.dirty_pages = 50000;	/* 195 MiB: 195 ms, fits */
	assert_true(precopy_should_stop(&in, &d));
	in.state_bytes = 200 * MIB;
	assert_false(precopy_should_stop(&in, &d));
	assert_int_equal(d.remaining_bytes, 50000ull * 4096 + 200 * MIB);
	assert_int_equal(d.est_ms, 396);
}

static void test_round_limit(void **state)
{
	struct precopy_input in = base();
	struct precopy_decision d;
	(void)state;

	in.dirty_pages = 1000000;
	in.round = 29;
	assert_false(precopy_should_stop(&in, &d));
	in.round = 30;
	assert_true(precopy_should_stop(&in, &d));
	assert_string_equal(d.why, "round limit");
	/* max-rounds 0: round 0 is the only pre-copy round. */
	in.round = 0;
	in.max_rounds = 0;
	assert_true(precopy_should_stop(&in, &d));
	assert_string_equal(d.why, "round limit");
}

static void test_time_limit(void **state)
{
	struct precopy_input in = base();
	struct precopy_decision d;
	(void)state;

	in.dirty_pages = 1000000;
	in.elapsed_ms = 59999;
	assert_false(precopy_should_stop(&in, &d));
	in.elapsed_ms = 60000;
	assert_true(precopy_should_stop(&in, &d));
	assert_string_equal(d.why, "time limit");
}

/* The reasons are checked in a fixed order: the first that holds wins. */
static void test_order(void **state)
{
	struct precopy_input in = base();
	struct precopy_decision d;
	(void)state;

	in.round = 30;
	in.elapsed_ms = 100000;
	assert_true(precopy_should_stop(&in, &d));
	assert_string_equal(d.why, "remaining data fits the downtime budget");
	in.dirty_pages = 0;
	assert_true(precopy_should_stop(&in, &d));
	assert_string_equal(d.why, "nothing dirty");
	in.dirty_pages = 1000000;
	assert_true(precopy_should_stop(&in, &d));
	assert_string_equal(d.why, "round limit");
}

/* No rate (a round of no bytes, or no time): nothing can be said to fit. */
static void test_unknown_rate(void **state)
{
	struct precopy_input in = base();
	struct precopy_decision d;
	(void)state;

	in.round_ns = 0;
	assert_false(precopy_should_stop(&in, &d));
	assert_int_equal(d.rate_bps, 0);
	assert_int_equal(d.est_ms, UINT64_MAX);
	in = base();
	in.round_bytes = 0;
	assert_false(precopy_should_stop(&in, &d));
	in.round = in.max_rounds;
	assert_true(precopy_should_stop(&in, &d));
	assert_string_equal(d.why, "round limit");
}

/* A very slow round and a huge remainder: no overflow, no false fit. */
static void test_extremes(void **state)
{
	struct precopy_input in = base();
	struct precopy_decision d;
	(void)state;

	in.round_bytes = 1;
	in.round_ns = UINT64_MAX;
	in.dirty_pages = UINT64_MAX / 8192;
	in.downtime_ms = UINT64_MAX - 1;
	assert_false(precopy_should_stop(&in, &d));
	assert_int_equal(d.est_ms, UINT64_MAX);
	in = base();
	in.round_ns = 1;	/* absurdly fast */
	in.dirty_pages = 1;
	in.downtime_ms = 0;
	assert_false(precopy_should_stop(&in, &d));	/* a pause is never free */
	assert_int_equal(d.est_ms, 1);
}

static void test_params_defaults_pass(void **state)
{
	struct mig_params p;
	char err[200];
	(void)state;

	mig_params_default(&p);
	assert_int_equal(mig_params_check(&p, err, sizeof(err)), 0);
	p.max_rounds = MIG_MAX_ROUNDS_LIMIT;
	p.downtime_ms = MIG_DOWNTIME_MS_LIMIT;
	p.max_precopy_ms = MIG_MAX_PRECOPY_MS_LIMIT;
	p.timeout_ms = MIG_TIMEOUT_MS_MIN;
	p.bandwidth = MIG_BANDWIDTH_MIN;
	p.stall_ms = MIG_STALL_MS_LIMIT;
	p.stall_stage = MIG_STAGE_ACTIVATION;
	assert_int_equal(mig_params_check(&p, err, sizeof(err)), 0);
	p.downtime_ms = 0;
	p.max_rounds = 0;
	p.bandwidth = 0;
	p.timeout_ms = MIG_TIMEOUT_MS_MAX;
	assert_int_equal(mig_params_check(&p, err, sizeof(err)), 0);
}

static void test_params_out_of_range(void **state)
{
	struct mig_params p;
	char err[200];
	(void)state;

	mig_params_default(&p);
	p.max_rounds = MIG_MAX_ROUNDS_LIMIT + 1;
	assert_int_equal(mig_params_check(&p, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "max-rounds must be at most 60");

	mig_params_default(&p);
	p.downtime_ms = MIG_DOWNTIME_MS_LIMIT + 1;
	assert_int_equal(mig_params_check(&p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "downtime-ms"));

	mig_params_default(&p);
	p.max_precopy_ms = MIG_MAX_PRECOPY_MS_LIMIT + 1;
	assert_int_equal(mig_params_check(&p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "max-precopy-ms"));

	mig_params_default(&p);
	p.timeout_ms = MIG_TIMEOUT_MS_MIN - 1;
	assert_int_equal(mig_params_check(&p, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "timeout-ms must be at least 100");
	p.timeout_ms = MIG_TIMEOUT_MS_MAX + 1;
	assert_int_equal(mig_params_check(&p, err, sizeof(err)), -EINVAL);

	mig_params_default(&p);
	p.bandwidth = MIG_BANDWIDTH_MIN - 1;
	assert_int_equal(mig_params_check(&p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "bandwidth"));

	mig_params_default(&p);
	p.stall_ms = MIG_STALL_MS_LIMIT + 1;
	assert_int_equal(mig_params_check(&p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "stall-ms"));

	mig_params_default(&p);
	p.stall_stage = MIG_STAGE_COUNT;
	assert_int_equal(mig_params_check(&p, err, sizeof(err)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_dirty),
		cmocka_unit_test(test_fits_budget),
		cmocka_unit_test(test_over_budget_goes_on),
		cmocka_unit_test(test_budget_boundary),
		cmocka_unit_test(test_state_counts),
		cmocka_unit_test(test_round_limit),
		cmocka_unit_test(test_time_limit),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_unknown_rate),
		cmocka_unit_test(test_extremes),
		cmocka_unit_test(test_params_defaults_pass),
		cmocka_unit_test(test_params_out_of_range),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
