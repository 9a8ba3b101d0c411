/* The accelerator interface: how a VM's vCPUs actually run.
 *
 *             vm.c / main.c / devices / migration / api
 *                              |
 *                   struct accel_ops (this file)
 *                    /                          \
 *            accel/kvm.c                   accel/proc.c  ---- exec ---->  compsc-vcpu-proc
 *        /dev/kvm, KVM_RUN,            guest in its own process,         (accel/proc_sandbox.c:
 *        irqfd, dirty log,             hypercalls on a shared page,       seccomp, uffd-wp,
 *        KVM_GET_* state               uffd-wp + PAGEMAP_SCAN log,        signal-frame state)
 *                                      signal-frame vCPU state
 *
 * Everything above the table is shared: the MMIO bus, the devices, the VF
 * attachment, the migration engine and the control socket never ask which
 * accelerator runs. Guest RAM is always the memfd in struct vm, created
 * before the accelerator's vm_init; under both accelerators the NIC's DMA
 * (another process writing that memfd) is invisible to the dirty log, as
 * with a real IOMMU.
 *
 * Threads: vm_init/vm_teardown and vcpu_init/vcpu_teardown run on the main
 * thread; vcpu_run and the park hooks on the vCPU's own thread; kick from
 * any thread; the dirty log and the state calls from the migration thread
 * with the VM paused (state) or running (dirty log). */
#ifndef CSC_VMM_ACCEL_H
#define CSC_VMM_ACCEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct vcpu;
struct mig_io;
struct mig_rec;
struct mig_cpuid_summary;
struct accel_state;	/* a paused VM's vCPU/VM state, accelerator-specific */

/* One MSI route: a guest vector behind a GSI. */
struct irq_route {
	uint32_t gsi;
	uint32_t vector;
	uint32_t dest_apic_id;
};

enum vcpu_run_result {
	VCPU_RUN_AGAIN = 0,	/* handled an exit or was kicked: check flags, run again */
	VCPU_RUN_STOP = -1,	/* the VM is ending (exit requested by the handler) */
};

struct accel_ops {
	const char *name;	/* "kvm", "proc": also the name in migration streams */
	uint32_t guest_binding;	/* CSC_BINDING_* the guest image must carry */
	uint32_t boot_accel;	/* CSC_ACCEL_*: tells the guest which binding to take */

	/* VM lifetime. vm->ram / vm->ram_fd exist; fills vm->tsc_khz. */
	int (*vm_init)(struct vm *vm, char *err, size_t errlen);
	void (*vm_teardown)(struct vm *vm);

	/* vCPUs. */
	int (*vcpu_init)(struct vcpu *vcpu, char *err, size_t errlen);
	void (*vcpu_teardown)(struct vcpu *vcpu);
	/* 64-bit entry at `entry` with boot_arg in %rdi and the vCPU index in %rsi. */
	int (*vcpu_set_boot_state)(struct vcpu *vcpu, uint64_t entry, uint64_t boot_arg);
	/* Called in a loop by the vCPU thread: run guest code until one exit
	 * was handled or the thread was kicked. */
	enum vcpu_run_result (*vcpu_run)(struct vcpu *vcpu);
	/* Around a pause: park_begin makes the vCPU's state consistent and
	 * readable (a half-done exit completed, the guest stopped);
	 * park_end lets it go on. Both on the vCPU thread. */
	int (*vcpu_park_begin)(struct vcpu *vcpu);
	void (*vcpu_park_end)(struct vcpu *vcpu);
	/* Any thread: make vcpu_run return soon. */
	void (*vcpu_kick)(struct vcpu *vcpu);
	/* Registers on stderr, for fault reports. */
	void (*vcpu_dump)(struct vcpu *vcpu);

	/* Interrupts (irq.c keeps the route table and calls these). */
	int (*irq_set_routes)(struct vm *vm, const struct irq_route *routes, unsigned n);
	int (*irq_attach)(struct vm *vm, const struct irq_route *route, int efd);
	int (*irq_detach)(struct vm *vm, const struct irq_route *route, int efd);

	/* A guest write of `datamatch` (len bytes) at addr signals efd
	 * without a trip through the bus (on = false removes it). An
	 * accelerator may decline with 0 and leave the write to the bus
	 * handler, which must then raise efd itself. */
	int (*ioeventfd)(struct vm *vm, uint64_t addr, uint32_t len, uint64_t datamatch, int efd, bool on);

	/* Dirty log of the guest's own writes (not the VMM's, not DMA). */
	int (*dirty_log_start)(struct vm *vm, char *err, size_t errlen);
	void (*dirty_log_stop)(struct vm *vm);
	/* ORs the pages written since the last call into bitmap (one bit per
	 * page) and re-arms; returns 0 or -errno with a reason in err. */
	int (*dirty_log_collect)(struct vm *vm, uint64_t *bitmap, char *err, size_t errlen);

	/* Migration state. cpuid: what the guest sees, for the compatibility
	 * check in HELLO. The rest: save with every vCPU parked, send after
	 * the last RAM, receive record by record (hostile input: checked),
	 * complete-check, then load into the destination's parked vCPUs. */
	int (*cpuid_summary)(struct vm *vm, struct mig_cpuid_summary *out);
	struct accel_state *(*state_new)(struct vm *vm);
	void (*state_free)(struct accel_state *s);
	int (*state_save)(struct vm *vm, struct accel_state *s, char *err, size_t errlen);
	int (*state_send)(struct vm *vm, const struct accel_state *s, struct mig_io *io);
	bool (*state_owns_record)(uint16_t type);
	int (*state_rx)(struct vm *vm, struct accel_state *s, const struct mig_rec *rec, char *err,
			size_t errlen);
	int (*state_complete)(struct vm *vm, const struct accel_state *s, char *err, size_t errlen);
	int (*state_load)(struct vm *vm, const struct accel_state *s, char *err, size_t errlen);
};

extern const struct accel_ops accel_kvm_ops;
extern const struct accel_ops accel_proc_ops;

/* Chooses the accelerator for `wanted` ("kvm", "proc" or "auto"). On
 * success returns the table and writes why it was chosen into `why`; on
 * failure returns NULL with the reason in `why` (the caller exits 3). */
const struct accel_ops *accel_select(const char *wanted, char *why, size_t why_len);
/* Whether a name is one of kvm, proc, auto. */
bool accel_name_valid(const char *name);
/* Whether the guest image supports this accelerator's binding (the
 * CompSC ABI note of the ELF, see common/guest_abi.h). */
bool accel_guest_supported(const struct accel_ops *ops, uint32_t guest_bindings);

#endif
