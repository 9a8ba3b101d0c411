/* testdev: a device with nothing but migratable state (one value), for
 * exercising the device-state registry: a VMM started with
 * --test-device VALUE has it, one without does not, and a migration from
 * the first to the second must fail at reservation. */
#ifndef CSC_VMM_TESTDEV_H
#define CSC_VMM_TESTDEV_H

#include <stdint.h>

struct vm;

int testdev_create(struct vm *vm, uint32_t value);
/* The current value (after a migration: the source's). */
uint32_t testdev_value(void);

#endif
