/* lwIP's system hooks for NO_SYS: the clock and a random source. */
#include "guest/arch.h"
#include "guest/rt.h"
#include "lwip/sys.h"

u32_t sys_now(void)
{
	/* clock_ms() comes from the TSC, which stays monotonic across a
	 * migration between VMMs on one machine (docs/platform-notes.md). */
	return (u32_t)clock_ms();
}

uint32_t csc_lwip_rand(void)
{
	static uint64_t s;

	if (!s)
		s = arch_rdtsc() | 1;
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return (uint32_t)(s >> 16);
}
