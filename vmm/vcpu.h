/* vCPUs: the thread that runs one through the accelerator, parks it while
 * the VM is paused, and stops it when the VM ends. */
#ifndef CSC_VMM_VCPU_H
#define CSC_VMM_VCPU_H

#include <stdint.h>

struct vcpu;

int vcpu_set_boot_state(struct vcpu *vcpu, uint64_t entry, uint64_t boot_arg);
void *vcpu_thread(void *arg);
/* Any thread: make the vCPU leave guest code and look at the VM's flags. */
void vcpu_kick(struct vcpu *vcpu);
/* Registers on stderr (fault reports). */
void vcpu_dump(struct vcpu *vcpu);

#endif
