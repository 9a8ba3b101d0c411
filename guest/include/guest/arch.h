/* x86-64 specifics of the guest: ring-0 set-up, the exception frame, the
 * system calls and the interrupt counters kept by the ring-0 stubs (under
 * KVM) or by the VMM itself (under the proc accelerator, proc.c). */
#ifndef GUEST_ARCH_H
#define GUEST_ARCH_H

#include <stdint.h>

struct csc_bootinfo;

/* As pushed by entry.S: GPRs (r15 lowest), vector, error code, CPU frame. */
struct exception_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error_code;
	uint64_t rip, cs, rflags, rsp, ss;
};

void arch_init(const struct csc_bootinfo *bi);	/* ring 0 */
void exception_entry(const struct exception_frame *f);	/* ring 0 */

/* Interrupt bookkeeping, written by the ring-0 stubs, read at ring 3. */
extern volatile uint32_t irq_counts[256];
extern volatile uint32_t irq_total;
extern volatile uint32_t irq_last_cpl[256];

enum guest_syscall {
	SYS_WAIT_IRQ = 0,
	SYS_FAULT_RING0 = 1,
	SYS_TRIPLE_FAULT = 2,
};

/* System call: `int3` through a DPL-3 gate on vector 3. On PVM hosts both
 * `int n` (raises #UD) and `syscall` (stays at ring 3) fail to reach ring 0
 * from a guest that is not PVM-aware; exceptions do reach the IDT, and
 * int3 is the one-byte trap designed to be raised on purpose. */
extern int arch_proc;	/* guest/mmio.h */
long proc_syscall(long nr, long arg);	/* the proc binding (proc.c) */
void proc_arch_init(void);

static inline long arch_syscall(long nr, long arg)
{
	long ret;

	if (__builtin_expect(arch_proc, 0))
		return proc_syscall(nr, arg);
	__asm__ volatile("int3" : "=a"(ret) : "a"(nr), "D"(arg) : "memory");
	return ret;
}

static inline uint64_t arch_rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static inline void arch_pause(void)
{
	__asm__ volatile("pause");
}

#define barrier() __asm__ volatile("" ::: "memory")
#define mb() __asm__ volatile("mfence" ::: "memory")
#define rmb() __asm__ volatile("lfence" ::: "memory")
#define wmb() __asm__ volatile("sfence" ::: "memory")

#endif
