#include "apps.h"
#include "guest/mmio.h"
#include "guest/rt.h"

/* app=unclaimed: reads and writes an MMIO address no device claims; the
 * VMM must log it, read all ones, and keep the guest running. */
int app_unclaimed(void)
{
	volatile uint32_t *nowhere = (volatile uint32_t *)(uintptr_t)cmdline_get_u64("addr", 0xd0f00000);
	uint32_t v = mmio_read32(nowhere);

	mmio_write32(nowhere, 0x12345678);
	printf("unclaimed: read 0x%08x at %p, still running\n", v, (void *)nowhere);
	return v == 0xffffffffu ? 0 : 1;
}
