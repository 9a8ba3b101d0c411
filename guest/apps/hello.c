/* app=hello: the greeting. Prints what the guest learned from the boot
 * information: memory, command line, devices. exit=N sets the status. */
#include "../../common/bootinfo.h"
#include "apps.h"
#include "guest/rt.h"

static const char *mem_type_name(uint32_t type)
{
	switch (type) {
	case CSC_MEM_RAM:
		return "ram";
	case CSC_MEM_RESERVED:
		return "reserved";
	case CSC_MEM_IMAGE:
		return "image";
	default:
		return "?";
	}
}

int app_hello(void)
{
	const struct csc_bootinfo *bi = rt_bootinfo;

	printf("Hello from the CompSC guest: %llu MiB of memory, TSC %llu kHz\n",
	       (unsigned long long)(bi->ram_size >> 20), (unsigned long long)bi->tsc_khz);
	printf("command line: \"%s\"\n", bi->cmdline);
	for (uint32_t i = 0; i < bi->n_mem; i++)
		printf("memory: [0x%09llx, 0x%09llx) %s\n", (unsigned long long)bi->mem[i].base,
		       (unsigned long long)(bi->mem[i].base + bi->mem[i].len), mem_type_name(bi->mem[i].type));
	for (uint32_t i = 0; i < bi->n_dev; i++) {
		const struct csc_boot_dev *d = &bi->dev[i];
		printf("device %u: %s%u at 0x%llx (%llu KiB), vector 0x%x\n", i, csc_dev_type_name(d->type),
		       d->instance, (unsigned long long)d->mmio_base, (unsigned long long)(d->mmio_len >> 10),
		       d->irq_vector);
	}
	printf("heap: %llu MiB free, uptime %llu ms\n", (unsigned long long)(rt_heap_free() >> 20),
	       (unsigned long long)clock_ms());
	return (int)cmdline_get_u64("exit", 0);
}
