/* Monotonic clock from the TSC. rdtsc runs natively at ring 3; the
 * frequency comes from the boot information (KVM_GET_TSC_KHZ). */
#include "guest/arch.h"
#include "guest/rt.h"

static uint64_t tsc_khz = 1;
static uint64_t tsc_at_boot;

void clock_init(uint64_t khz)
{
	tsc_khz = khz ? khz : 1;
	tsc_at_boot = arch_rdtsc();
}

uint64_t clock_ms(void)
{
	return (arch_rdtsc() - tsc_at_boot) / tsc_khz;
}

uint64_t clock_us(void)
{
	uint64_t ticks = arch_rdtsc() - tsc_at_boot;

	/* Split to avoid overflowing ticks * 1000 after ~100 days. */
	return ticks / tsc_khz * 1000 + (ticks % tsc_khz) * 1000 / tsc_khz;
}

void delay_ms(uint64_t ms)
{
	uint64_t end = clock_ms() + ms;

	while (clock_ms() < end)
		arch_pause();
}
