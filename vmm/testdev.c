#include "testdev.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../common/log.h"
#include "devstate_check.h"
#include "migration/devstate.h"
#include "migration/stream.h"
#include "vm.h"

/* State, version 1: u32 magic 'TDEV' | u32 value, little-endian. */
#define TESTDEV_STATE_VERSION 1
#define TESTDEV_STATE_LEN 8
#define TESTDEV_MAGIC 0x56454454u

static uint32_t testdev_val;
static const struct mig_device_ops testdev_ops;

static int testdev_save(void *opaque, uint8_t *buf, size_t cap, size_t *len)
{
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
	int ret = devstate_check_version(&testdev_ops, version, len, TESTDEV_STATE_LEN, err, errlen);

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

static const struct mig_device_ops testdev_ops = {
	.name = "testdev",
	.version = TESTDEV_STATE_VERSION,
	.min_load_version = TESTDEV_STATE_VERSION,
	.save = testdev_save,
	.load = testdev_load,
};

int testdev_create(struct vm *vm, uint32_t value)
{
	testdev_val = value;
	return vm->mig_devices ? mig_registry_add(vm->mig_devices, &testdev_ops, NULL) : -ENOSYS;
}

uint32_t testdev_value(void)
{
	return testdev_val;
}
