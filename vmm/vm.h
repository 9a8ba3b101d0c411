/* One virtual machine: KVM VM, guest RAM, vCPUs, the MMIO bus, interrupt
 * routing and the VMM's own devices. compsc-vmm runs exactly one. */
#ifndef CSC_VMM_VM_H
#define CSC_VMM_VM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus.h"
#include "event_loop.h"
#include "irq.h"

#define VM_MAX_VCPUS 8
#define VM_MAX_VFS 4

/* Exit statuses of compsc-vmm (besides the guest's own exit status). */
enum vmm_exit_code {
	VMM_EXIT_FAULT = 1,	/* guest fault, KVM error, internal error */
	VMM_EXIT_USAGE = 2,	/* bad command line or input file */
	VMM_EXIT_NO_KVM = 3,	/* /dev/kvm missing or not accessible */
};

struct vm;
struct platform;
struct vf_device;

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started;
};

struct vm {
	int kvm_fd;
	int vm_fd;
	/* Guest RAM is a memfd so that other processes (the NIC, for DMA) can
	 * map the same pages. */
	int ram_fd;
	uint8_t *ram;
	uint64_t ram_size;
	size_t run_size;	/* KVM_GET_VCPU_MMAP_SIZE */
	uint64_t tsc_khz;

	unsigned n_vcpus;
	struct vcpu vcpus[VM_MAX_VCPUS];

	struct bus bus;
	struct irq_router irq;
	struct evloop loop;
	struct platform *platform;
	struct vf_device *vfs[VM_MAX_VFS];
	unsigned n_vfs;
	unsigned next_mmio_window;	/* device windows handed out so far */

	/* Pages the VMM itself wrote (dirty.c); KVM's log misses them. */
	uint64_t *vmm_dirty;
	size_t vmm_dirty_words;

	/* Lifecycle: the first vm_request_exit() wins and stops everything. */
	atomic_bool stopping;
	int exit_status;
	uint64_t start_ns;		/* process start, for the timing report */
	uint64_t exit_request_ns;
};

/* Opens /dev/kvm and checks the API version; on failure returns -errno and
 * writes what the user should do into err. */
int vm_open_kvm(char *err, size_t err_len);

int vm_create(struct vm *vm, int kvm_fd, uint64_t ram_size, unsigned n_vcpus);
void vm_destroy(struct vm *vm);

/* Starts the vCPU threads, runs the event loop until the guest exits or
 * faults, joins the vCPUs; returns the process exit status. */
int vm_run(struct vm *vm);

/* Any thread: ends the VM with this status (first caller wins). */
void vm_request_exit(struct vm *vm, int status);

/* The next free device window in the MMIO hole (CSC_MMIO_WINDOW bytes). */
uint64_t vm_alloc_mmio_window(struct vm *vm);

/* Guest-physical to host pointer for [gpa, gpa + len) inside RAM; NULL if
 * the range is not wholly RAM. Use this for every guest-supplied address. */
void *vm_gpa_to_hva(struct vm *vm, uint64_t gpa, uint64_t len);

/* dirty.c: the VMM-side dirty bitmap. vm_mark_dirty() is called for every
 * write a device model makes into guest memory (any thread, lock-free);
 * vm_dirty_collect() ORs the bitmap into `out` (one bit per 4 KiB page) and
 * clears it. */
int vm_dirty_init(struct vm *vm);
void vm_dirty_free(struct vm *vm);
void vm_mark_dirty(struct vm *vm, uint64_t gpa, uint64_t len);
void vm_dirty_collect(struct vm *vm, uint64_t *out, size_t words);

/* vcpu.c */
int vcpu_create(struct vm *vm, unsigned id);
int vcpu_set_boot_state(struct vcpu *vcpu, uint64_t entry, uint64_t boot_arg);
void *vcpu_thread(void *arg);
void vcpu_kick(struct vcpu *vcpu);
void vcpu_dump(struct vcpu *vcpu);
void vcpu_destroy(struct vcpu *vcpu);

#endif
