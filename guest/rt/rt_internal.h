/* Runtime internals shared by the files of guest/rt. */
#ifndef GUEST_RT_INTERNAL_H
#define GUEST_RT_INTERNAL_H

#include <stdint.h>

#include "../../common/bootinfo.h"
#include "guest/mmio.h"

/* The platform device's registers (set by rt_start). */
extern volatile uint32_t *rt_platform_regs;
/* The platform device's interrupt vector (its wake-up timer's too). */
extern uint32_t rt_platform_vector;

static inline void platform_write(uint32_t offset, uint32_t value)
{
	mmio_write32(&rt_platform_regs[offset / 4], value);
}

void heap_init(const struct csc_bootinfo *bi);

#endif
