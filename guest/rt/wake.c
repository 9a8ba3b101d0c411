/* Wake-up timer for sleeping with a deadline (platform WAKE_US register).
 * Cheap by design: the register is written only when the new deadline is
 * earlier than the one already armed (or that one has passed), so a loop
 * that sleeps again and again towards the same deadline costs no exit.
 *
 * "Already armed" is believed only while no platform interrupt arrived
 * since the arming. Our clock (the TSC at the frequency the VMM gave us)
 * and the VMM's timer never agree exactly: the timer may fire a little
 * before armed_us by our clock, and a guest that then trusted armed_us
 * would sleep with no timer left. A migration also leaves the timer on
 * the source. Both end in a platform interrupt (the timer's own, or the
 * destination's "you moved"), so counting them is enough. */
#include "../../common/platform_regs.h"
#include "guest/arch.h"
#include "guest/rt.h"
#include "rt_internal.h"

static uint64_t armed_us;	/* absolute clock_us() of the armed wake-up, 0 none */
static uint32_t armed_irqs;	/* platform interrupts counted when it was armed */

void platform_wake_at_us(uint64_t deadline_us)
{
	uint64_t now = clock_us();
	uint32_t irqs = irq_counts[rt_platform_vector];

	if (armed_us > now && armed_us <= deadline_us && irqs == armed_irqs)
		return;
	uint64_t delta = deadline_us > now ? deadline_us - now : 1;
	if (delta > 0xffffffffull)
		delta = 0xffffffffull;
	platform_write(CSC_PLAT_WAKE_US, (uint32_t)delta);
	armed_us = now + delta;
	armed_irqs = irqs;
}
