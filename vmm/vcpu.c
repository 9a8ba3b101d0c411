/* vCPU creation, the x86-64 boot state, and the KVM_RUN loop.
 *
 * The VMM puts the vCPU straight into 64-bit mode at ring 0 with paging on
 * (page tables from boot.c); the guest's first instructions load its own
 * GDT/IDT/TSS. Every exit the guest can provoke is handled or reported:
 * nothing a guest does aborts this process. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../common/layout.h"
#include "../common/log.h"
#include "vm.h"

#define X86_CR0_PE (1ull << 0)
#define X86_CR0_MP (1ull << 1)
#define X86_CR0_ET (1ull << 4)
#define X86_CR0_NE (1ull << 5)
#define X86_CR0_WP (1ull << 16)
#define X86_CR0_AM (1ull << 18)
#define X86_CR0_PG (1ull << 31)
#define X86_CR4_PAE (1ull << 5)
#define X86_CR4_OSFXSR (1ull << 9)
#define X86_CR4_OSXMMEXCPT (1ull << 10)
#define X86_EFER_SCE (1ull << 0)
#define X86_EFER_LME (1ull << 8)
#define X86_EFER_LMA (1ull << 10)

static int set_cpuid(struct vcpu *vcpu)
{
	struct {
		struct kvm_cpuid2 head;
		struct kvm_cpuid_entry2 entries[256];
	} cpuid = { .head.nent = 256 };

	if (ioctl(vcpu->vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, &cpuid) < 0)
		return -errno;
	/* Leaf 1 EBX[31:24]: initial APIC ID = vCPU index. */
	for (unsigned i = 0; i < cpuid.head.nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid.entries[i];
		if (e->function == 1)
			e->ebx = (e->ebx & 0x00ffffffu) | (vcpu->id << 24);
	}
	if (ioctl(vcpu->fd, KVM_SET_CPUID2, &cpuid) < 0)
		return -errno;
	return 0;
}

int vcpu_create(struct vm *vm, unsigned id)
{
	struct vcpu *vcpu = &vm->vcpus[id];
	int ret;

	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (vcpu->fd < 0)
		return -errno;
	vcpu->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		ret = -errno;
		close(vcpu->fd);
		vcpu->fd = -1;
		vcpu->run = NULL;
		return ret;
	}
	ret = set_cpuid(vcpu);
	if (ret < 0)
		log_error("vcpu%u: KVM_SET_CPUID2: %s", id, strerror(-ret));
	return ret;
}

void vcpu_destroy(struct vcpu *vcpu)
{
	if (vcpu->run)
		munmap(vcpu->run, vcpu->vm->run_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	vcpu->run = NULL;
	vcpu->fd = -1;
}

int vcpu_set_boot_state(struct vcpu *vcpu, uint64_t entry, uint64_t boot_arg)
{
	struct kvm_sregs s;
	struct kvm_regs r;

	if (ioctl(vcpu->fd, KVM_GET_SREGS, &s) < 0)
		return -errno;
	struct kvm_segment code = {
		.base = 0, .limit = 0xffffffff, .selector = 0x08, .type = 11, /* execute/read, accessed */
		.present = 1, .dpl = 0, .db = 0, .s = 1, .l = 1, .g = 1,
	};
	struct kvm_segment data = code;
	data.selector = 0x10;
	data.type = 3; /* read/write, accessed */
	data.l = 0;
	data.db = 1;
	s.cs = code;
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	/* A valid busy TSS until the guest loads its own (VMX requires one). */
	s.tr = (struct kvm_segment){ .base = 0, .limit = 0x67, .selector = 0x18, .type = 11, .present = 1 };
	s.cr3 = CSC_PT_PML4_GPA;
	s.cr4 = X86_CR4_PAE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;
	s.cr0 = X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE | X86_CR0_WP | X86_CR0_AM | X86_CR0_PG;
	s.efer = X86_EFER_SCE | X86_EFER_LME | X86_EFER_LMA;
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &s) < 0)
		return -errno;

	memset(&r, 0, sizeof(r));
	r.rip = entry;
	r.rflags = 0x2;
	r.rdi = boot_arg;	/* SysV first argument: boot information */
	r.rsi = vcpu->id;
	if (ioctl(vcpu->fd, KVM_SET_REGS, &r) < 0)
		return -errno;
	return 0;
}

void vcpu_dump(struct vcpu *vcpu)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	if (ioctl(vcpu->fd, KVM_GET_REGS, &r) < 0 || ioctl(vcpu->fd, KVM_GET_SREGS, &s) < 0) {
		log_error("vcpu%u: cannot read registers: %s", vcpu->id, strerror(errno));
		return;
	}
	fprintf(stderr,
		"  vcpu%u: rip %016llx  rsp %016llx  rflags %016llx  cpl %u\n"
		"  rax %016llx  rbx %016llx  rcx %016llx  rdx %016llx\n"
		"  rsi %016llx  rdi %016llx  rbp %016llx  r8  %016llx\n"
		"  r9  %016llx  r10 %016llx  r11 %016llx  r12 %016llx\n"
		"  r13 %016llx  r14 %016llx  r15 %016llx\n"
		"  cs %04x ss %04x ds %04x tr %04x  cr0 %llx cr2 %llx cr3 %llx cr4 %llx efer %llx\n"
		"  gdt %llx/%x  idt %llx/%x\n",
		vcpu->id, r.rip, r.rsp, r.rflags, s.cs.selector & 3, r.rax, r.rbx, r.rcx, r.rdx, r.rsi,
		r.rdi, r.rbp, r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, s.cs.selector,
		s.ss.selector, s.ds.selector, s.tr.selector, s.cr0, s.cr2, s.cr3, s.cr4, s.efer,
		s.gdt.base, s.gdt.limit, s.idt.base, s.idt.limit);
}

void vcpu_kick(struct vcpu *vcpu)
{
	/* immediate_exit covers the window before the thread enters KVM_RUN;
	 * the signal interrupts a KVM_RUN already in progress. */
	if (vcpu->run)
		__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&vcpu->vm->kick_lock);
	if (vcpu->thread_started)
		pthread_kill(vcpu->thread, SIGUSR1);
	pthread_mutex_unlock(&vcpu->vm->kick_lock);
}

static struct ratelimit pio_log = RATELIMIT_INIT(5);

static void handle_pio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint64_t suppressed;

	/* No port-I/O devices: the guest's code runs at ring 3, where port
	 * I/O faults on PVM. Reads see all ones, writes vanish. */
	if (run->io.direction == KVM_EXIT_IO_IN)
		memset((uint8_t *)run + run->io.data_offset, 0xff, (size_t)run->io.size * run->io.count);
	if (ratelimit_pass(&pio_log, &suppressed))
		log_warn("vcpu%u: unclaimed port I/O %s port 0x%x", vcpu->id,
			 run->io.direction == KVM_EXIT_IO_IN ? "read" : "write", run->io.port);
}

/* Returns false when the vCPU must stop. */
static bool handle_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	struct vm *vm = vcpu->vm;

	switch (run->exit_reason) {
	case KVM_EXIT_MMIO:
		bus_access(&vm->bus, run->mmio.phys_addr, run->mmio.data, run->mmio.len,
			   run->mmio.is_write);
		return true;
	case KVM_EXIT_IO:
		handle_pio(vcpu);
		return true;
	case KVM_EXIT_HLT:
		/* With the in-kernel LAPIC, HLT is handled by KVM; reaching
		 * here means the vCPU halted with interrupts off for good. */
		log_error("vcpu%u: guest halted with no way to wake up", vcpu->id);
		vcpu_dump(vcpu);
		vm_request_exit(vm, VMM_EXIT_FAULT);
		return false;
	case KVM_EXIT_SHUTDOWN:
		log_error("vcpu%u: guest triple fault (shutdown); registers at the last fault:", vcpu->id);
		vcpu_dump(vcpu);
		vm_request_exit(vm, VMM_EXIT_FAULT);
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		log_error("vcpu%u: KVM internal error, suberror %u", vcpu->id, run->internal.suberror);
		vcpu_dump(vcpu);
		vm_request_exit(vm, VMM_EXIT_FAULT);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		log_error("vcpu%u: KVM entry failed, hardware reason 0x%llx", vcpu->id,
			  (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		vcpu_dump(vcpu);
		vm_request_exit(vm, VMM_EXIT_FAULT);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		log_info("vcpu%u: guest system event %u", vcpu->id, run->system_event.type);
		vm_request_exit(vm, 0);
		return false;
	default:
		log_error("vcpu%u: unexpected KVM exit reason %u", vcpu->id, run->exit_reason);
		vcpu_dump(vcpu);
		vm_request_exit(vm, VMM_EXIT_FAULT);
		return false;
	}
}

/* Parks the vCPU while the VM is paused. KVM completes a pending MMIO or
 * PIO exit only on the next KVM_RUN: one KVM_RUN with immediate_exit set
 * does that without running guest code, so the state read while parked is
 * consistent (KVM API: "immediate_exit"). */
static void vcpu_park(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;

	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (ioctl(vcpu->fd, KVM_RUN, 0) == 0 || (errno != EINTR && errno != EAGAIN))
		log_debug("vcpu%u: completing KVM_RUN before pause: %s", vcpu->id, strerror(errno));
	__atomic_store_n(&vcpu->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&vm->run_lock);
	vm->n_parked++;
	pthread_cond_broadcast(&vm->run_cond);
	while (atomic_load(&vm->pause_req) && !atomic_load(&vm->stopping))
		pthread_cond_wait(&vm->run_cond, &vm->run_lock);
	vm->n_parked--;
	pthread_mutex_unlock(&vm->run_lock);
}

void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm *vm = vcpu->vm;
	sigset_t set;

	/* vm_create() installed a SIGUSR1 handler without SA_RESTART, so a
	 * kick makes KVM_RUN return EINTR. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	while (!atomic_load(&vm->stopping)) {
		if (atomic_load(&vm->pause_req)) {
			vcpu_park(vcpu);
			continue;
		}
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				__atomic_store_n(&vcpu->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
				continue;
			}
			log_error("vcpu%u: KVM_RUN: %s", vcpu->id, strerror(errno));
			vcpu_dump(vcpu);
			vm_request_exit(vm, VMM_EXIT_FAULT);
			break;
		}
		if (!handle_exit(vcpu))
			break;
	}
	return NULL;
}
