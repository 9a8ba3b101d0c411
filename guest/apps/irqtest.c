/* app=irqtest: proves that an interrupt raised through an irqfd reaches the
 * guest while it runs ring-3 code. Asks the VMM to raise the platform
 * interrupt after delay=MS (default 20) and spins at ring 3 until the
 * ring-0 stub has counted it; then tests the sleeping path (irq_wait). */
#include "../../common/bootinfo.h"
#include "apps.h"
#include "guest/arch.h"
#include "guest/rt.h"

int app_irqtest(void)
{
	const struct csc_boot_dev *plat = csc_bootinfo_find_dev(rt_bootinfo, CSC_DEV_PLATFORM, 0);
	uint32_t vector = plat->irq_vector;
	uint64_t delay = cmdline_get_u64("delay", 20), timeout = 5000;

	if (!vector)
		panic("irqtest: the platform device has no interrupt vector");

	/* 1. Busy at ring 3: the interrupt must preempt this loop. */
	uint32_t before = irq_counts[vector];
	uint64_t start = clock_ms();
	platform_arm_test_irq((uint32_t)delay);
	while (irq_counts[vector] == before) {
		if (clock_ms() - start > timeout)
			panic("irqtest: vector 0x%x not delivered within %llu ms", vector,
			      (unsigned long long)timeout);
		arch_pause();
	}
	printf("irqtest: vector 0x%x delivered at ring %u after %llu ms (busy)\n", vector,
	       irq_last_cpl[vector], (unsigned long long)(clock_ms() - start));

	/* 2. Asleep in hlt (SYS_WAIT_IRQ): the interrupt must wake it. */
	before = irq_counts[vector];
	start = clock_ms();
	uint32_t snap = irq_snapshot();
	platform_arm_test_irq((uint32_t)delay);
	while (irq_counts[vector] == before) {
		if (clock_ms() - start > timeout)
			panic("irqtest: no wake-up within %llu ms", (unsigned long long)timeout);
		irq_wait(snap);
		snap = irq_snapshot();
	}
	printf("irqtest: vector 0x%x woke the guest from hlt after %llu ms\n", vector,
	       (unsigned long long)(clock_ms() - start));
	return 0;
}
