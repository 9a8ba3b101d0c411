#include "testdev.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../common/log.h"
#include "migration/devstate.h"
#include "vm.h"

#define TESTDEV_STATE_VERSION 1
struct testdev_state_v1 {
	uint32_t magic;	/* 'TDEV' */
	uint32_t value;
};

static struct testdev_state_v1 testdev;

static int testdev_save(void *opaque, uint8_t *buf, size_t cap, size_t *len)
{
	(void)opaque;
	if (cap < sizeof(testdev))
		return -ENOSPC;
	memcpy(buf, &testdev, sizeof(testdev));
	*len = sizeof(testdev);
	return 0;
}

static int testdev_load(void *opaque, uint32_t version, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	struct testdev_state_v1 st;

	(void)opaque;
	if (version != TESTDEV_STATE_VERSION || len != sizeof(st)) {
		snprintf(err, errlen, "state version %u of %zu bytes", version, len);
		return -EINVAL;
	}
	memcpy(&st, buf, sizeof(st));
	if (st.magic != 0x56454454u) {
		snprintf(err, errlen, "bad magic 0x%x", st.magic);
		return -EINVAL;
	}
	testdev = st;
	log_info("testdev: value %u arrived", st.value);
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
	testdev.magic = 0x56454454u;
	testdev.value = value;
	return vm->mig_devices ? mig_registry_add(vm->mig_devices, &testdev_ops, NULL) : -ENOSYS;
}

uint32_t testdev_value(void)
{
	return testdev.value;
}
