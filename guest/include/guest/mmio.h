/* Device register access: the one path every driver uses.
 *
 * Under KVM a register is an MMIO address and an access is a plain
 * volatile load or store (the VMM sees a VM exit). Under the proc
 * accelerator the guest is a process with nothing mapped at device
 * addresses: the access becomes a hypercall (arch/x86_64/proc.c). Which
 * one is decided once at boot from the boot information (arch_proc), the
 * way Linux chooses its pv_ops; the KVM path costs one predictable branch. */
#ifndef GUEST_MMIO_H
#define GUEST_MMIO_H

#include <stdint.h>

extern int arch_proc;	/* 1 when running under the proc accelerator (entry.S) */

uint64_t proc_mmio_read(uintptr_t addr, uint32_t len);
void proc_mmio_write(uintptr_t addr, uint32_t len, uint64_t value);

static inline uint32_t mmio_read32(const volatile void *p)
{
	if (__builtin_expect(arch_proc, 0))
		return (uint32_t)proc_mmio_read((uintptr_t)p, 4);
	return *(const volatile uint32_t *)p;
}

static inline void mmio_write32(volatile void *p, uint32_t v)
{
	if (__builtin_expect(arch_proc, 0))
		proc_mmio_write((uintptr_t)p, 4, v);
	else
		*(volatile uint32_t *)p = v;
}

static inline uint8_t mmio_read8(const volatile void *p)
{
	if (__builtin_expect(arch_proc, 0))
		return (uint8_t)proc_mmio_read((uintptr_t)p, 1);
	return *(const volatile uint8_t *)p;
}

#endif
