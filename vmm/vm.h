/* One virtual machine: guest RAM, vCPUs, the MMIO bus, interrupt routing
 * and the VMM's own devices, run by an accelerator (accel/accel.h: KVM or a
 * sandboxed process). compsc-vmm runs exactly one. */
#ifndef CSC_VMM_VM_H
#define CSC_VMM_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus.h"
#include "event_loop.h"
#include "device.h"
#include "irq.h"
#include "vm_state.h"

#define VM_MAX_VCPUS 8
#define VM_MAX_VFS 4

/* Exit statuses of compsc-vmm (besides the guest's own exit status). */
enum vmm_exit_code {
	VMM_EXIT_FAULT = 1,	/* guest fault, accelerator error, internal error */
	VMM_EXIT_USAGE = CLI_EXIT_USAGE,	/* bad command line or input file */
	VMM_EXIT_NO_KVM = 3,	/* the accelerator asked for cannot run here */
	VMM_EXIT_MIGRATION = 4,	/* incoming migration failed (destination) */
};

struct vm;
struct platform;
struct hotplug;
struct vf_device;
struct migration;
struct accel_ops;

struct vcpu {
	struct vm *vm;
	unsigned id;
	void *accel_vcpu;	/* the accelerator's per-vCPU state */
	pthread_t thread;
	bool thread_started;
};

struct vm {
	const struct accel_ops *accel;
	void *accel_vm;		/* the accelerator's per-VM state */
	/* Guest RAM is a memfd so that other processes (the NIC, for DMA) can
	 * map the same pages. */
	int ram_fd;
	uint8_t *ram;
	uint64_t ram_size;
	uint64_t tsc_khz;	/* the guest's TSC frequency (set by the accelerator) */

	unsigned n_vcpus;
	struct vcpu vcpus[VM_MAX_VCPUS];

	struct bus bus;
	struct irq_router irq;
	struct evloop loop;
	int signal_fd;		/* SIGINT/SIGTERM, read by the event loop */
	struct platform *platform;
	struct hotplug *hotplug;	/* the platform's hot-plug controller (hotplug.h) */
	struct vf_device *vfs[VM_MAX_VFS];
	unsigned n_vfs;
	unsigned next_mmio_window;	/* device windows handed out so far */

	/* Pause/resume of all vCPUs (migration, the control socket). vCPUs
	 * run while pause_count is 0; a paused vCPU is parked outside KVM_RUN
	 * with its last MMIO/PIO exit completed, so its state can be read. */
	pthread_mutex_t run_lock;
	/* Serialises whole vm_pause/vm_resume calls (count change and device
	 * hooks together), so a pause never overtakes a resume's hooks. */
	pthread_mutex_t pause_lock;
	/* Held while kicking a vCPU thread and while retiring one before
	 * pthread_join: a joined thread is never signalled. */
	pthread_mutex_t kick_lock;
	pthread_cond_t run_cond;
	unsigned pause_count;
	atomic_bool pause_req;
	unsigned n_parked;
	unsigned n_started;
	bool defer_vcpus;	/* vm_run() does not start vCPUs (incoming) */

	/* Pages the VMM itself wrote into guest RAM (no accelerator logs those):
	 * one bit per page, set by vm_mark_dirty(), taken by migration. */
	_Atomic uint64_t *vmm_dirty;
	uint64_t n_pages;

	/* The devices (device.h): created, paused, resumed, migrated and
	 * destroyed through this one registry; boot_devs is what the guest's
	 * boot information lists, in creation order. */
	struct device_registry devices;
	struct csc_boot_dev boot_devs[CSC_BOOT_MAX_DEV];
	unsigned n_boot_devs;
	/* CompSC: where the guest's VF driver registered its shared area
	 * (platform register COMPSC_AREA; 0 none), and the status of that
	 * registration (0 or a positive errno, read back by the guest). */
	_Atomic uint64_t compsc_area_gpa;
	_Atomic int compsc_status;
	/* Why this VM cannot migrate (e.g. a pass-through VF without CompSC);
	 * NULL if it can. */
	const char *mig_blocker;

	struct migration *mig;			/* outgoing/incoming migration */

	/* The lifecycle state machine (vm_state.h); state_lock guards both. */
	pthread_mutex_t state_lock;
	enum vm_state state;
	enum vm_state state_before_migration;

	/* Lifecycle: the first vm_request_exit() wins and stops everything. */
	atomic_bool stopping;
	int exit_status;
	uint64_t start_ns;		/* process start, for the timing report */
	uint64_t exit_request_ns;
};

/* Creates guest RAM, the accelerator's VM and the vCPUs; on failure returns
 * -errno with the reason in err (vm_destroy cleans up either way). */
int vm_create(struct vm *vm, const struct accel_ops *accel, uint64_t ram_size, unsigned n_vcpus, char *err,
	      size_t errlen);
void vm_destroy(struct vm *vm);

/* Starts the vCPU threads, runs the event loop until the guest exits or
 * faults, joins the vCPUs; returns the process exit status. */
int vm_run(struct vm *vm);

/* Moves the state machine; -EPERM with "cannot EVENT: the VM is STATE" in
 * err when the table forbids the event now. Any thread. */
int vm_state_event(struct vm *vm, enum vm_event ev, char *err, size_t errlen);
enum vm_state vm_state_get(struct vm *vm);

/* Any thread: ends the VM with this status (first caller wins). */
void vm_request_exit(struct vm *vm, int status);

/* The next free device window in the MMIO hole (CSC_MMIO_WINDOW bytes). */
uint64_t vm_alloc_mmio_window(struct vm *vm);

/* Guest-physical to host pointer for [gpa, gpa + len) inside RAM; NULL if
 * the range is not wholly RAM. Use this for every guest-supplied address. */
void *vm_gpa_to_hva(struct vm *vm, uint64_t gpa, uint64_t len);

/* Records that the VMM wrote [gpa, gpa + len) of guest RAM (any thread).
 * Every device that writes guest memory through vm->ram calls this, or the
 * write is lost when the VM migrates. */
void vm_mark_dirty(struct vm *vm, uint64_t gpa, uint64_t len);
/* Moves the VMM-side dirty bits into `bitmap` (ORed in, one bit per page,
 * n_pages bits) and clears them. */
void vm_take_vmm_dirty(struct vm *vm, uint64_t *bitmap);

/* Pause all vCPUs (nested: each vm_pause needs a vm_resume). Returns once
 * every started vCPU is parked, or -ECANCELED when the VM is stopping. */
int vm_pause(struct vm *vm);
void vm_resume(struct vm *vm);
bool vm_is_paused(struct vm *vm);
/* Creates a device (ops->create), lists it in the boot information and
 * adds it to the registry; NULL with the reason in err on failure. Main
 * thread, before the vCPUs run. */
void *vm_device_create(struct vm *vm, const struct device_ops *ops, const void *config, unsigned instance,
		       char *err, size_t errlen);
/* Starts the vCPU threads (vm_run does it unless defer_vcpus). Main thread. */
int vm_start_vcpus(struct vm *vm);

/* Binds a guest MMIO write of datamatch at addr to efd through the
 * accelerator (KVM_IOEVENTFD); the device's bus handler must also raise efd
 * for writes that reach it (an accelerator may leave them to the bus). */
int vm_ioeventfd(struct vm *vm, uint64_t addr, uint32_t len, uint64_t datamatch, int efd, bool on);

/* Dirty-page tracking for pre-copy: the accelerator's log of guest writes
 * ORed with the VMM's own bitmap (vm_mark_dirty). */
int vm_mem_dirty_log_start(struct vm *vm, char *err, size_t errlen);
void vm_mem_dirty_log_stop(struct vm *vm);
/* ORs every page written since the last call into bitmap; returns the
 * number of pages set in bitmap, or -errno with the reason in err. */
int64_t vm_mem_dirty_log_collect(struct vm *vm, uint64_t *bitmap, char *err, size_t errlen);

#include "vcpu.h"

#endif
