/* Registering the CompSC shared area with the VMM: platform registers
 * COMPSC_AREA (0x20) and COMPSC_STATUS (0x24), common/platform_regs.h.
 * The platform device is the runtime's, so the access lives here; the VF
 * driver (the only caller) declares it in guest/drivers/igbvf/igbvf.h. */
#include "../../common/csc_errno.h"
#include "../../common/platform_regs.h"
#include "rt_internal.h"

uint32_t platform_compsc_register(uint64_t gpa);

uint32_t platform_compsc_register(uint64_t gpa)
{
	/* The register is 32 bits wide: guest RAM ends below 4 GiB
	 * (docs/guest-abi.md), so every area the runtime can allocate fits. */
	if (gpa > 0xffffffffull)
		return ERANGE;
	platform_write(CSC_PLAT_COMPSC_AREA, (uint32_t)gpa);
	/* A VMM that does not know the register ignores the write and reads
	 * 0 here: the caller treats that as accepted. */
	return mmio_read32(&rt_platform_regs[CSC_PLAT_COMPSC_STATUS / 4]);
}
