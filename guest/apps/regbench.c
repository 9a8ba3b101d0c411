/* app=regbench: the cost of register accesses seen from ring 3.
 *   bare MMIO exit: platform register (handled inside compsc-vmm)
 *   VF write:       posted to compsc-nic over vfio-user
 *   VF read:        a round trip to compsc-nic
 * n=COUNT accesses of each (default 2000). Prints microseconds per access. */
#include "../../common/bootinfo.h"
#include "../../common/platform_regs.h"
#include "../drivers/igbvf/igbvf.h"
#include "apps.h"
#include "guest/rt.h"
#include "guest/mmio.h"

static uint64_t per_op_ns(uint64_t start_us, uint64_t n)
{
	return (clock_us() - start_us) * 1000 / n;
}

int app_regbench(void)
{
	uint64_t n = cmdline_get_u64("n", 2000);
	const struct csc_boot_dev *plat = csc_bootinfo_find_dev(rt_bootinfo, CSC_DEV_PLATFORM, 0);
	const struct csc_boot_dev *vf = csc_bootinfo_find_dev(rt_bootinfo, CSC_DEV_VF_82576, 0);
	volatile uint32_t *p = (volatile uint32_t *)plat->mmio_base;
	volatile uint32_t sink = 0;
	uint64_t t;

	t = clock_us();
	for (uint64_t i = 0; i < n; i++)
		mmio_write32(&p[CSC_PLAT_MARK / 4], 0);	/* mark 0: recorded nowhere, a bare exit */
	uint64_t bare_write = per_op_ns(t, n);
	t = clock_us();
	for (uint64_t i = 0; i < n; i++)
		sink += mmio_read32(&p[CSC_PLAT_ID / 4]);
	uint64_t bare_read = per_op_ns(t, n);
	printf("regbench: bare MMIO exit write %llu ns, read %llu ns\n", (unsigned long long)bare_write,
	       (unsigned long long)bare_read);
	if (!vf) {
		printf("regbench: no VF attached\n");
		return 0;
	}
	volatile uint32_t *bar = (volatile uint32_t *)vf->mmio_base;
	t = clock_us();
	for (uint64_t i = 0; i < n; i++)
		mmio_write32(&bar[VF_EITR(2) / 4], (uint32_t)i & 0x7ffc);	/* plain register, no side effect */
	uint64_t vf_write = per_op_ns(t, n);
	t = clock_us();
	for (uint64_t i = 0; i < n; i++)
		sink += mmio_read32(&bar[VF_EIAC / 4]);
	uint64_t vf_read = per_op_ns(t, n);
	printf("regbench: VF register write %llu ns, read %llu ns\n", (unsigned long long)vf_write,
	       (unsigned long long)vf_read);
	(void)sink;
	return 0;
}
