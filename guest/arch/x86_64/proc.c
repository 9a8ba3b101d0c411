/* The proc binding: the guest runs as a sandboxed Linux process (the VMM's
 * proc accelerator). No ring 0, no IDT, no LAPIC: entry.S jumps straight
 * to user_entry, device registers are hypercalls on the page at
 * CSC_HCALL_GPA (common/hcall.h), interrupts arrive as counter increments
 * the VMM makes in irq_counts/irq_total, and halting is a FUTEX_WAIT on
 * irq_total. The only system call this code makes is futex: the sandbox's
 * seccomp filter allows nothing else. */
#include <stdint.h>

#include "../../../common/csc_errno.h"
#include "../../../common/hcall.h"
#include "../../../common/layout.h"
#include "guest/arch.h"
#include "guest/mmio.h"

#define SYS_FUTEX 202
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define SPIN_CYCLES 60000	/* ~30 us at 2 GHz of polling before sleeping */

int arch_proc;

static struct csc_hcall_page *const hc = (struct csc_hcall_page *)CSC_HCALL_GPA;

static long futex(volatile uint32_t *addr, int op, uint32_t val)
{
	register long r10 __asm__("r10") = 0;	/* no timeout */
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"((long)SYS_FUTEX), "D"(addr), "S"((long)op), "d"((long)val), "r"(r10)
			 : "rcx", "r11", "memory");
	return ret;
}

/* One request at a time per vCPU: post it, wake the VMM if it sleeps, spin
 * a little (the VMM usually answers within microseconds), then sleep. */
static uint64_t hcall(uint32_t nr, uint64_t addr, uint64_t value, uint32_t len)
{
	hc->nr = nr;
	hc->addr = addr;
	hc->value = value;
	hc->len = len;
	__atomic_store_n(&hc->state, CSC_HC_REQUEST, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&hc->vmm_waiting, __ATOMIC_SEQ_CST))
		futex(&hc->state, FUTEX_WAKE, 1);
	/* Bounded by time, not iterations: PAUSE takes 10 to 140 cycles
	 * depending on the CPU. */
	uint64_t until = arch_rdtsc() + SPIN_CYCLES;
	while (arch_rdtsc() < until) {
		if (__atomic_load_n(&hc->state, __ATOMIC_ACQUIRE) == CSC_HC_REPLY)
			goto done;
	}
	while (__atomic_load_n(&hc->state, __ATOMIC_ACQUIRE) == CSC_HC_REQUEST)
		futex(&hc->state, FUTEX_WAIT, CSC_HC_REQUEST);
done:;
	uint64_t v = hc->value;
	__atomic_store_n(&hc->state, CSC_HC_IDLE, __ATOMIC_RELEASE);
	return v;
}

uint64_t proc_mmio_read(uintptr_t addr, uint32_t len)
{
	return hcall(CSC_HC_MMIO_READ, addr, 0, len);
}

void proc_mmio_write(uintptr_t addr, uint32_t len, uint64_t value)
{
	hcall(CSC_HC_MMIO_WRITE, addr, value, len);
}

/* From user_entry, before anything can raise an interrupt the guest would
 * wait for: tell the VMM where the counters are. */
void proc_arch_init(void)
{
	/* Every interrupt finds the guest at ring 3: there is no other. */
	for (int v = 0; v < 256; v++)
		irq_last_cpl[v] = 3;
	hcall(CSC_HC_IRQ_AREA, (uintptr_t)&irq_total, (uintptr_t)irq_counts, 0);
}

long proc_syscall(long nr, long arg)
{
	switch (nr) {
	case SYS_WAIT_IRQ:
		/* The same contract as hlt under KVM: back once any interrupt
		 * arrived after the caller's snapshot. FUTEX_WAIT checks the
		 * value atomically, so a wake-up between the test and the
		 * sleep is not lost. */
		while (__atomic_load_n(&irq_total, __ATOMIC_ACQUIRE) == (uint32_t)arg)
			futex(&irq_total, FUTEX_WAIT, (uint32_t)arg);
		return 0;
	default:
		/* SYS_FAULT_RING0, SYS_TRIPLE_FAULT: there is no ring 0 here. */
		return -ENOSYS;
	}
}
