/* MMIO bus: dispatch by address, overlap rules, unclaimed accesses. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/log.h"
#include "../../vmm/bus.h"

struct fake_dev {
	int calls;
	uint64_t last_offset;
	uint32_t last_len;
	bool last_write;
	uint32_t value;
};

static void fake_handler(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct fake_dev *d = dev;

	d->calls++;
	d->last_offset = offset;
	d->last_len = len;
	d->last_write = is_write;
	if (is_write)
		memcpy(&d->value, data, len < 4 ? len : 4);
	else
		memcpy(data, &d->value, len < 4 ? len : 4);
}

static int setup(void **state)
{
	static struct bus bus;

	log_init("test", LOG_ERROR);	/* unclaimed accesses log warnings */
	bus_init(&bus);
	*state = &bus;
	return 0;
}

static int teardown(void **state)
{
	bus_destroy(*state);
	return 0;
}

static void test_dispatch_to_the_right_device(void **state)
{
	struct bus *bus = *state;
	struct fake_dev a = { 0 }, b = { 0 };
	uint32_t v = 0x12345678;

	assert_int_equal(bus_register(bus, 0x2000, 0x1000, "b", &b, fake_handler), 0);
	assert_int_equal(bus_register(bus, 0x1000, 0x1000, "a", &a, fake_handler), 0);
	assert_true(bus_access(bus, 0x1010, (uint8_t *)&v, 4, true));
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 0);
	assert_int_equal(a.last_offset, 0x10);
	assert_true(a.last_write);
	assert_int_equal(a.value, 0x12345678);

	b.value = 0xcafe;
	v = 0;
	assert_true(bus_access(bus, 0x2ffc, (uint8_t *)&v, 4, false));	/* last word of b */
	assert_int_equal(b.calls, 1);
	assert_int_equal(b.last_offset, 0xffc);
	assert_int_equal(v, 0xcafe);
}

static void test_overlap_is_refused(void **state)
{
	struct bus *bus = *state;
	struct fake_dev d = { 0 };

	assert_int_equal(bus_register(bus, 0x1000, 0x1000, "a", &d, fake_handler), 0);
	assert_int_equal(bus_register(bus, 0x1800, 0x1000, "x", &d, fake_handler), -EEXIST);
	assert_int_equal(bus_register(bus, 0x0800, 0x1000, "x", &d, fake_handler), -EEXIST);
	assert_int_equal(bus_register(bus, 0x0000, 0x4000, "x", &d, fake_handler), -EEXIST);
	assert_int_equal(bus_register(bus, 0x0000, 0x1000, "x", &d, fake_handler), 0);	/* adjacent */
	assert_int_equal(bus_register(bus, 0x5000, 0, "x", &d, fake_handler), -EINVAL);
	assert_int_equal(bus_register(bus, UINT64_MAX - 10, 0x100, "x", &d, fake_handler), -EINVAL);
}

static void test_unclaimed_reads_all_ones_and_is_counted(void **state)
{
	struct bus *bus = *state;
	struct fake_dev d = { 0 };
	uint64_t v = 0;

	assert_int_equal(bus_register(bus, 0x1000, 0x1000, "a", &d, fake_handler), 0);
	assert_false(bus_access(bus, 0x3000, (uint8_t *)&v, 8, false));
	assert_int_equal(v, UINT64_MAX);
	assert_false(bus_access(bus, 0x0ffc, (uint8_t *)&v, 4, true));
	/* An access straddling the end of a region is not the region's. */
	assert_false(bus_access(bus, 0x1ffe, (uint8_t *)&v, 4, false));
	assert_int_equal(d.calls, 0);
	assert_int_equal(bus->unclaimed_reads, 2);
	assert_int_equal(bus->unclaimed_writes, 1);
	/* Many unclaimed accesses must not be fatal (and are rate-limited). */
	for (int i = 0; i < 1000; i++)
		bus_access(bus, 0x9000, (uint8_t *)&v, 4, true);
	assert_int_equal(bus->unclaimed_writes, 1001);
	assert_true(bus->unclaimed_log.suppressed > 0);
}

static void test_unregister(void **state)
{
	struct bus *bus = *state;
	struct fake_dev d = { 0 };
	uint32_t v = 0;

	assert_int_equal(bus_register(bus, 0x1000, 0x1000, "a", &d, fake_handler), 0);
	assert_int_equal(bus_unregister(bus, 0x1004), -ENOENT);
	assert_int_equal(bus_unregister(bus, 0x1000), 0);
	assert_false(bus_access(bus, 0x1000, (uint8_t *)&v, 4, false));
	assert_int_equal(bus_unregister(bus, 0x1000), -ENOENT);
}

static void test_many_regions_stay_sorted(void **state)
{
	struct bus *bus = *state;
	struct fake_dev devs[40] = { 0 };

	/* Registered in a scrambled order; each must still get its own hits. */
	for (int i = 0; i < 40; i++) {
		int k = (i * 17) % 40;
		assert_int_equal(bus_register(bus, 0x10000 + k * 0x1000ull, 0x1000, "d", &devs[k], fake_handler), 0);
	}
	for (int k = 0; k < 40; k++) {
		uint32_t v = (uint32_t)k;
		assert_true(bus_access(bus, 0x10000 + k * 0x1000ull + 8, (uint8_t *)&v, 4, true));
		assert_int_equal(devs[k].calls, 1);
		assert_int_equal(devs[k].value, (uint32_t)k);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dispatch_to_the_right_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlap_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unclaimed_reads_all_ones_and_is_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unregister, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_regions_stay_sorted, setup, teardown),
	};
	return cmocka_run_group_tests_name("bus", tests, NULL, NULL);
}
