/* vCPU and VM (irqchip, clock) state: save from KVM, send as records,
 * receive and check (no KVM needed: unit-testable), load into KVM.
 *
 * Order (the order KVM needs; docs/migration-stream.md): save MP_STATE first and VCPU_EVENTS last
 * with every vCPU paused; load MP_STATE, REGS, SREGS, XSAVE, XCRS,
 * DEBUGREGS, LAPIC, MSRS (TSC before TSC_DEADLINE, in a last chunk),
 * VCPU_EVENTS; then CLOCK (flags cleared), IRQCHIP (PIC master, slave,
 * IOAPIC). CPUID is set when the destination creates its vCPUs, from the
 * same source as on the source, and checked at pre-migration. */
#ifndef CSC_VMM_MIG_CPUSTATE_H
#define CSC_VMM_MIG_CPUSTATE_H

#include <linux/kvm.h>
#include <stdint.h>

#include "stream.h"

struct vcpu;
struct vm;

#define MIG_MAX_MSRS 48

enum mig_cpu_part {
	MIG_CPU_MP_STATE = 1u << 0,
	MIG_CPU_REGS = 1u << 1,
	MIG_CPU_SREGS = 1u << 2,
	MIG_CPU_XSAVE = 1u << 3,
	MIG_CPU_XCRS = 1u << 4,
	MIG_CPU_DEBUGREGS = 1u << 5,
	MIG_CPU_LAPIC = 1u << 6,
	MIG_CPU_MSRS = 1u << 7,
	MIG_CPU_EVENTS = 1u << 8,
	MIG_CPU_ALL = (1u << 9) - 1,
};

struct mig_vcpu_state {
	uint32_t have;		/* enum mig_cpu_part bits received */
	struct kvm_mp_state mp;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xsave xsave;
	struct kvm_xcrs xcrs;
	struct kvm_debugregs dbg;
	struct kvm_lapic_state lapic;
	uint32_t nmsrs;
	struct kvm_msr_entry msrs[MIG_MAX_MSRS];
	struct kvm_vcpu_events events;
};

enum mig_vm_part {
	MIG_VM_CLOCK = 1u << 0,
	MIG_VM_PIC_MASTER = 1u << 1,
	MIG_VM_PIC_SLAVE = 1u << 2,
	MIG_VM_IOAPIC = 1u << 3,
	MIG_VM_ALL = (1u << 4) - 1,
};

struct mig_vm_state {
	uint32_t have;
	uint64_t clock_ns;
	uint64_t realtime_ns;	/* source CLOCK_REALTIME when the clock was read */
	struct kvm_irqchip chip[3];
};

/* Whether the MSR may travel in the stream (and be written on load). */
bool mig_msr_allowed(uint32_t index);

/* CPUID words (stream.h) of a vCPU, and the compatibility rule: every
 * feature bit the source has, the destination has. */
int mig_cpuid_read(struct vcpu *vcpu, struct mig_cpuid_summary *out);
int mig_cpuid_check(const struct mig_cpuid_summary *src, const struct mig_cpuid_summary *dst, char *err,
		    size_t errlen);

/* KVM side. vCPUs must be parked (vm_pause). */
int mig_vcpu_save(struct vcpu *vcpu, struct mig_vcpu_state *s, char *err, size_t errlen);
int mig_vcpu_load(struct vcpu *vcpu, const struct mig_vcpu_state *s, char *err, size_t errlen);
int mig_vm_save(struct vm *vm, struct mig_vm_state *s, char *err, size_t errlen);
int mig_vm_load(struct vm *vm, const struct mig_vm_state *s, char *err, size_t errlen);

/* Stream side. */
int mig_vcpu_send(struct mig_io *io, uint32_t id, const struct mig_vcpu_state *s);
int mig_vm_send(struct mig_io *io, const struct mig_vm_state *s);
/* Takes one CPU_* / VM_* record into states[0..n_vcpus) / vm; checks
 * lengths, ids, duplicates and register values. Returns 0 or -errno. */
int mig_cpu_rx(struct mig_vcpu_state *states, uint32_t n_vcpus, struct mig_vm_state *vm,
	       uint64_t ram_size, const struct mig_rec *rec, char *err, size_t errlen);
/* All parts present for every vCPU and the VM? */
int mig_cpu_rx_complete(const struct mig_vcpu_state *states, uint32_t n_vcpus,
			const struct mig_vm_state *vm, char *err, size_t errlen);

#endif
