#include "testdev.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../common/log.h"
#include "device.h"
#include "migration/stream.h"
#include "vm.h"

/* State, version 1: u32 magic 'TDEV' | u32 value, little-endian. */
#define TESTDEV_STATE_VERSION 1
#define TESTDEV_STATE_LEN 8
#define TESTDEV_MAGIC 0x56454454u

static uint32_t testdev_val;
extern const struct device_ops testdev_device_ops;

static int testdev_save(void *opaque, uint8_t *buf, size_t cap, size_t *len, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	(void)opaque;
	if (cap < TESTDEV_STATE_LEN)
		return -ENOSPC;
	mig_put32(buf, TESTDEV_MAGIC);
	mig_put32(buf + 4, testdev_val);
	*len = TESTDEV_STATE_LEN;
	return 0;
}

static int testdev_load(void *opaque, uint32_t version, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	int ret = device_check_version(&testdev_device_ops, version, len, TESTDEV_STATE_LEN, err, errlen);

	(void)opaque;
	if (ret < 0)
		return ret;
	if (mig_get32(buf) != TESTDEV_MAGIC) {
		snprintf(err, errlen, "bad magic 0x%x", mig_get32(buf));
		return -EINVAL;
	}
	testdev_val = mig_get32(buf + 4);
	log_info("testdev: value %u arrived", testdev_val);
	return 0;
}

/* No MMIO, no interrupt, nothing for the guest to see: only state. */
static void *testdev_create(struct vm *vm, const void *config, unsigned instance, struct csc_boot_dev *boot,
			   char *err, size_t errlen)
{
	(void)vm, (void)instance, (void)boot, (void)err, (void)errlen;
	testdev_val = *(const uint32_t *)config;
	return &testdev_val;
}

static void testdev_destroy(void *dev)
{
	(void)dev;
}

const struct device_ops testdev_device_ops = {
	.name = "testdev",
	.version = TESTDEV_STATE_VERSION,
	.min_load_version = TESTDEV_STATE_VERSION,
	.create = testdev_create,
	.destroy = testdev_destroy,
	.save = testdev_save,
	.load = testdev_load,
};

uint32_t testdev_value(void)
{
	return testdev_val;
}
