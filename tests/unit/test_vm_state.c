/* The VM state machine's table: every allowed transition, and that
 * everything else is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../vmm/vm_state.h"

static void test_boot_and_incoming(void **state)
{
	(void)state;
	assert_int_equal(vm_state_next(VM_STATE_CREATED, VM_EV_BOOT, 0), VM_STATE_RUNNING);
	assert_int_equal(vm_state_next(VM_STATE_CREATED, VM_EV_LISTEN, 0), VM_STATE_INCOMING);
	assert_int_equal(vm_state_next(VM_STATE_INCOMING, VM_EV_ARRIVED, 0), VM_STATE_RUNNING);
	/* An incoming VM cannot be paused, migrated or booted. */
	assert_int_equal(vm_state_next(VM_STATE_INCOMING, VM_EV_PAUSE, 0), -1);
	assert_int_equal(vm_state_next(VM_STATE_INCOMING, VM_EV_MIGRATE, 0), -1);
	assert_int_equal(vm_state_next(VM_STATE_INCOMING, VM_EV_BOOT, 0), -1);
	assert_int_equal(vm_state_next(VM_STATE_CREATED, VM_EV_PAUSE, 0), -1);
}

static void test_pause_resume(void **state)
{
	(void)state;
	assert_int_equal(vm_state_next(VM_STATE_RUNNING, VM_EV_PAUSE, 0), VM_STATE_PAUSED);
	assert_int_equal(vm_state_next(VM_STATE_PAUSED, VM_EV_PAUSE, 0), VM_STATE_PAUSED);
	assert_int_equal(vm_state_next(VM_STATE_PAUSED, VM_EV_RESUME, 0), VM_STATE_RUNNING);
	assert_int_equal(vm_state_next(VM_STATE_RUNNING, VM_EV_RESUME, 0), VM_STATE_RUNNING);
	/* The migration owns pause and resume while it runs. */
	assert_int_equal(vm_state_next(VM_STATE_MIGRATING, VM_EV_PAUSE, 0), -1);
	assert_int_equal(vm_state_next(VM_STATE_MIGRATING, VM_EV_RESUME, 0), -1);
}

static void test_migration(void **state)
{
	(void)state;
	assert_int_equal(vm_state_next(VM_STATE_RUNNING, VM_EV_MIGRATE, 0), VM_STATE_MIGRATING);
	assert_int_equal(vm_state_next(VM_STATE_PAUSED, VM_EV_MIGRATE, 0), VM_STATE_MIGRATING);
	assert_int_equal(vm_state_next(VM_STATE_MIGRATING, VM_EV_MIGRATE, 0), -1);
	/* A failed migration goes back to where it started. */
	assert_int_equal(vm_state_next(VM_STATE_MIGRATING, VM_EV_MIGRATE_FAILED, VM_STATE_RUNNING), VM_STATE_RUNNING);
	assert_int_equal(vm_state_next(VM_STATE_MIGRATING, VM_EV_MIGRATE_FAILED, VM_STATE_PAUSED), VM_STATE_PAUSED);
	assert_int_equal(vm_state_next(VM_STATE_MIGRATING, VM_EV_COMMITTED, 0), VM_STATE_MIGRATED);
	/* After commitment the VM is elsewhere: nothing but exit. */
	for (int ev = 0; ev < VM_EV_COUNT; ev++)
		assert_int_equal(vm_state_next(VM_STATE_MIGRATED, ev, 0),
				 ev == VM_EV_EXIT ? VM_STATE_STOPPING : -1);
	assert_int_equal(vm_state_next(VM_STATE_RUNNING, VM_EV_COMMITTED, 0), -1);
	assert_int_equal(vm_state_next(VM_STATE_RUNNING, VM_EV_MIGRATE_FAILED, 0), -1);
}

/* COMMIT left and the destination never answered: the VM waits, paused,
 * for the orchestrator; nothing else moves it (docs/migration-stream.md,
 * "Commitment and confirm"). */
static void test_outcome_unknown(void **state)
{
	(void)state;
	assert_int_equal(vm_state_next(VM_STATE_MIGRATING, VM_EV_OUTCOME_UNKNOWN, 0), VM_STATE_OUTCOME_UNKNOWN);
	assert_int_equal(vm_state_next(VM_STATE_OUTCOME_UNKNOWN, VM_EV_RESOLVED_HERE, VM_STATE_RUNNING),
			 VM_STATE_RUNNING);
	assert_int_equal(vm_state_next(VM_STATE_OUTCOME_UNKNOWN, VM_EV_RESOLVED_HERE, VM_STATE_PAUSED),
			 VM_STATE_PAUSED);
	assert_int_equal(vm_state_next(VM_STATE_OUTCOME_UNKNOWN, VM_EV_COMMITTED, 0), VM_STATE_MIGRATED);
	for (int ev = 0; ev < VM_EV_COUNT; ev++) {
		if (ev == VM_EV_RESOLVED_HERE || ev == VM_EV_COMMITTED || ev == VM_EV_EXIT)
			continue;
		/* Not resume, pause, migrate, migrate-failed: only a resolution. */
		assert_int_equal(vm_state_next(VM_STATE_OUTCOME_UNKNOWN, ev, VM_STATE_RUNNING), -1);
	}
	/* Only an outgoing migration can end there, and only it resolves. */
	for (int s = 0; s < VM_STATE_COUNT; s++) {
		if (s != VM_STATE_MIGRATING)
			assert_int_equal(vm_state_next(s, VM_EV_OUTCOME_UNKNOWN, 0), -1);
		if (s != VM_STATE_OUTCOME_UNKNOWN)
			assert_int_equal(vm_state_next(s, VM_EV_RESOLVED_HERE, VM_STATE_RUNNING), -1);
	}
}

static void test_exit_from_anywhere(void **state)
{
	(void)state;
	for (int s = 0; s < VM_STATE_COUNT; s++) {
		assert_int_equal(vm_state_next(s, VM_EV_EXIT, 0), VM_STATE_STOPPING);
		assert_string_not_equal(vm_state_name(s), "?");
	}
	for (int ev = 0; ev < VM_EV_COUNT; ev++) {
		assert_string_not_equal(vm_event_name(ev), "?");
		if (ev != VM_EV_EXIT)
			assert_int_equal(vm_state_next(VM_STATE_STOPPING, ev, 0), -1);
	}
	assert_int_equal(vm_state_next(VM_STATE_COUNT, VM_EV_EXIT, 0), -1);
	assert_int_equal(vm_state_next(VM_STATE_RUNNING, VM_EV_COUNT, 0), -1);
	/* Nothing ever leads back to created. */
	for (int s = 0; s < VM_STATE_COUNT; s++)
		for (int ev = 0; ev < VM_EV_COUNT; ev++)
			assert_int_not_equal(vm_state_next(s, ev, VM_STATE_CREATED), VM_STATE_CREATED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boot_and_incoming),
		cmocka_unit_test(test_pause_resume),
		cmocka_unit_test(test_migration),
		cmocka_unit_test(test_outcome_unknown),
		cmocka_unit_test(test_exit_from_anywhere),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
