/* Wake-up timer for sleeping with a deadline (platform WAKE_US register).
 * Cheap by design: the register is written only when the new deadline is
 * earlier than the one already armed (or that one has passed), so a loop
 * that sleeps again and again towards the same deadline costs no exit. */
#include "../../common/platform_regs.h"
#include "guest/rt.h"
#include "rt_internal.h"

static uint64_t armed_us;	/* absolute clock_us() of the armed wake-up, 0 none */

void platform_wake_at_us(uint64_t deadline_us)
{
	uint64_t now = clock_us();

	if (armed_us > now && armed_us <= deadline_us)
		return;
	uint64_t delta = deadline_us > now ? deadline_us - now : 1;
	if (delta > 0xffffffffull)
		delta = 0xffffffffull;
	platform_write(CSC_PLAT_WAKE_US, (uint32_t)delta);
	armed_us = now + delta;
}
