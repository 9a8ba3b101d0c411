/* The platform device (register map in common/platform_regs.h): console, exit,
 * fault reports, boot-progress marks, a test interrupt, the wake-up timer,
 * the migration generation, CompSC's area and the hot-plug controller
 * (hotplug.h, vm->hotplug). */
#ifndef CSC_VMM_PLATFORM_H
#define CSC_VMM_PLATFORM_H

#include <stdint.h>
#include <stdio.h>

struct vm;
struct platform;

struct platform_config {
	FILE *console_out;		/* where guest console lines go */
	const char *console_prefix;	/* prepended to each line, may be "" */
};

/* The device (device.h), created with vm_device_create(vm,
 * &platform_device_ops, &config, 0, ...): claims its MMIO window, an
 * interrupt vector and its eventfd, sets vm->platform. */
struct device_ops;
extern const struct device_ops platform_device_ops;

/* Drains whatever the guest left in the console ring and flushes a partial
 * last line (called at VM exit). */
void platform_console_flush(struct platform *p);

/* Timestamp (now_ns) of a boot-progress mark, 0 if not reached. */
uint64_t platform_mark_time(const struct platform *p, unsigned mark);

uint64_t platform_mmio_base(const struct platform *p);
uint32_t platform_irq_vector(const struct platform *p);
/* Reports a guest fault (register dump on stderr, console flushed first)
 * and ends the VM with status 1. The record is a copy the caller owns;
 * `what` replaces the "vector N (name)" headline when not NULL. */
struct csc_fault_record;
void platform_report_fault(struct platform *p, const struct csc_fault_record *rec, const char *what);

#endif
