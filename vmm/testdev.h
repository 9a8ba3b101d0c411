/* testdev: a device with nothing but migratable state (one value), for
 * exercising the device-state registry: a VMM started with
 * --test-device VALUE has it, one without does not, and a migration from
 * the first to the second must fail at reservation. */
#ifndef CSC_VMM_TESTDEV_H
#define CSC_VMM_TESTDEV_H

#include <stdint.h>

struct vm;

/* Created with vm_device_create(vm, &testdev_device_ops, &value (uint32_t), 0, ...). */
struct device_ops;
extern const struct device_ops testdev_device_ops;
/* The current value (after a migration: the source's). */
uint32_t testdev_value(void);

#endif
