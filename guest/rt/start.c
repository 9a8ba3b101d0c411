/* Ring-3 start of the guest: validate the boot information, bring up the
 * runtime, run main(), exit with its status. */
#include <stdarg.h>

#include "../../common/bootinfo.h"
#include "../../common/platform_regs.h"
#include "guest/arch.h"
#include "guest/format.h"
#include "guest/rt.h"
#include "guest/string.h"
#include "rt_internal.h"

const struct csc_bootinfo *rt_bootinfo;
volatile uint32_t *rt_platform_regs;
uint32_t rt_platform_vector;

/* Written by the ring-0 stubs in entry.S. */
volatile uint32_t irq_counts[256];
volatile uint32_t irq_total;
volatile uint32_t irq_last_cpl[256];

void exit(int status)
{
	console_flush();
	for (;;)
		platform_write(CSC_PLAT_EXIT, (uint32_t)status);
}

void panic(const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("panic: %s\n", buf);
	exit(PANIC_EXIT_STATUS);
}

void platform_mark(uint32_t mark)
{
	platform_write(CSC_PLAT_MARK, mark);
}

void platform_arm_test_irq(uint32_t delay_ms)
{
	platform_write(CSC_PLAT_IRQ_TEST, delay_ms);
}

uint32_t platform_migration_generation(void)
{
	return mmio_read32(&rt_platform_regs[CSC_PLAT_MIGRATED / 4]);
}

uint32_t platform_hotplug_request(void)
{
	return mmio_read32(&rt_platform_regs[CSC_PLAT_HOTPLUG_REQ / 4]);
}

void platform_hotplug_ack(uint32_t req)
{
	platform_write(CSC_PLAT_HOTPLUG_ACK, req);
}

uint32_t platform_hotplug_present(void)
{
	return mmio_read32(&rt_platform_regs[CSC_PLAT_HOTPLUG_PRESENT / 4]);
}

uint32_t irq_snapshot(void)
{
	return __atomic_load_n(&irq_total, __ATOMIC_ACQUIRE);
}

void irq_wait(uint32_t snapshot)
{
	arch_syscall(SYS_WAIT_IRQ, snapshot);
}

void user_entry(const struct csc_bootinfo *bi);
void user_entry(const struct csc_bootinfo *bi)
{
	const struct csc_boot_dev *plat;

	if (arch_proc)
		proc_arch_init();
	plat = csc_bootinfo_find_dev(bi, CSC_DEV_PLATFORM, 0);
	/* Without the platform device there is no console and no exit: the
	 * best the guest can do is fault, which the VMM reports. */
	if (!plat)
		__asm__ volatile("ud2");
	rt_platform_regs = (volatile uint32_t *)plat->mmio_base;
	rt_platform_vector = plat->irq_vector < 256 ? plat->irq_vector : 0;
	if (csc_bootinfo_validate(bi) != 0) {
		printf("guest: invalid boot information\n");
		exit(PANIC_EXIT_STATUS);
	}
	rt_bootinfo = bi;
	clock_init(bi->tsc_khz);
	heap_init(bi);
	platform_mark(CSC_MARK_MAIN);
	exit(main());
}
