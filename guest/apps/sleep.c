/* app=sleep ms=N [early-ms=E]: sleeps on the runtime's wake-up timer
 * (platform_wake_at_us + irq_wait, the way the network loop idles) until N
 * ms after start, then says when it woke. Nothing else raises interrupts,
 * so a wake-up the runtime fails to arm strands it for good.
 *
 * early-ms=E first reprograms the VMM's timer behind the runtime's back to
 * fire after E ms: what a disagreement between the guest's clock and the
 * VMM's does, exaggerated. A migration during the sleep is the other way
 * to lose the timer (it stays on the source). */
#include "../../common/platform_regs.h"
#include "../rt/rt_internal.h"
#include "apps.h"
#include "guest/arch.h"
#include "guest/rt.h"

int app_sleep(void)
{
	uint64_t ms = cmdline_get_u64("ms", 1000), early = cmdline_get_u64("early-ms", 0);
	uint64_t start = clock_us(), deadline = start + ms * 1000;
	unsigned wakeups = 0;

	if (ms == 0 || ms > 3600000 || early >= ms)
		panic("sleep: needs 0 < early-ms < ms <= 3600000");
	printf("sleep: %llu ms%s\n", (unsigned long long)ms, early ? ", the VMM's timer set early" : "");
	platform_wake_at_us(deadline);
	if (early)
		platform_write(CSC_PLAT_WAKE_US, (uint32_t)(early * 1000));
	for (;;) {
		uint32_t snap = irq_snapshot();
		if (clock_us() >= deadline)
			break;
		platform_wake_at_us(deadline);
		irq_wait(snap);
		wakeups++;
	}
	printf("sleep: woke at %llu ms (deadline %llu ms) after %u wake-ups\n",
	       (unsigned long long)((clock_us() - start) / 1000), (unsigned long long)ms, wakeups);
	return 0;
}
