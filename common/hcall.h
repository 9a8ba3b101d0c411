/* Hypercalls of the proc accelerator: the guest, a sandboxed process, asks
 * the VMM for what a KVM guest gets from a VM exit.
 *
 * One page per vCPU in guest RAM (CSC_HCALL_GPA), so it migrates with the
 * RAM and a request the source never served is served by the destination.
 * Both sides map the same memfd page; `state` is a shared futex word:
 *
 *      guest                                  VMM vCPU thread
 *      fill nr/addr/value/len
 *      state = REQUEST  ------------------->  (spinning, or FUTEX_WAIT on
 *      if vmm_waiting: FUTEX_WAKE(state)       state while vmm_waiting = 1)
 *      spin, then FUTEX_WAIT(state, REQUEST)  serve it: bus_access(), ...
 *                        <------------------  value/ret, state = REPLY,
 *      read value, state = IDLE                FUTEX_WAKE(state)
 *
 * The guest is untrusted: the VMM copies nr/addr/value/len once and checks
 * them before use; a bad request gets ret = -EINVAL, never a crash.
 *
 * Interrupts need no hypercall: the guest registers its counters
 * (CSC_HC_IRQ_AREA) and the VMM increments counts[vector] and total in
 * guest memory, then FUTEX_WAKEs total, on which a halted guest waits. */
#ifndef CSC_COMMON_HCALL_H
#define CSC_COMMON_HCALL_H

#include <stdint.h>

enum csc_hcall_state {
	CSC_HC_IDLE = 0,
	CSC_HC_REQUEST = 1,
	CSC_HC_REPLY = 2,
};

enum csc_hcall_nr {
	CSC_HC_MMIO_READ = 1,	/* addr, len (1/2/4/8) -> value */
	CSC_HC_MMIO_WRITE = 2,	/* addr, len, value */
	CSC_HC_IRQ_AREA = 3,	/* addr = GPA of u32 total, value = GPA of u32 counts[256] */
};

struct csc_hcall_page {
	uint32_t state;		/* enum csc_hcall_state; futex word */
	uint32_t vmm_waiting;	/* 1 while the VMM sleeps on state */
	uint32_t nr;		/* enum csc_hcall_nr */
	uint32_t len;
	uint64_t addr;
	uint64_t value;
	int64_t ret;		/* 0 or -errno */
};

#endif
