/* KVM accelerator internals shared with the KVM side of vCPU/VM state
 * (migration/cpustate.c). Nothing else includes this. */
#ifndef CSC_VMM_ACCEL_KVM_H
#define CSC_VMM_ACCEL_KVM_H

#include <linux/kvm.h>
#include <stddef.h>

#include "../vm.h"

struct kvm_vm {
	int kvm_fd;		/* /dev/kvm */
	int vm_fd;
	size_t run_size;	/* KVM_GET_VCPU_MMAP_SIZE */
};

struct kvm_vcpu {
	int fd;
	struct kvm_run *run;
};

static inline struct kvm_vm *kvm_of(struct vm *vm)
{
	return vm->accel_vm;
}

static inline struct kvm_vcpu *kvm_vcpu_of(struct vcpu *vcpu)
{
	return vcpu->accel_vcpu;
}

/* Opens /dev/kvm and checks the API version and the capabilities we need;
 * on failure returns -errno and writes what the user should do into err. */
int kvm_open_dev(char *err, size_t err_len);

#endif
