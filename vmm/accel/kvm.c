/* The KVM accelerator: /dev/kvm, one memory slot over the guest-RAM memfd,
 * an in-kernel irqchip with MSI routes and irqfds, KVM_RUN on each vCPU
 * thread, KVM's dirty log, and KVM_GET/SET_* for migration state
 * (migration/cpustate.c holds those records).
 *
 * The VMM puts the vCPU straight into 64-bit mode at ring 0 with paging on
 * (page tables from boot.c); the guest's first instructions load its own
 * GDT/IDT/TSS. Every exit the guest can provoke is handled or reported:
 * nothing a guest does aborts this process. */
#include "kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../common/guest_abi.h"
#include "../../common/layout.h"
#include "../../common/log.h"
#include "../migration/cpustate.h"
#include "../migration/stream.h"
#include "accel.h"

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

int kvm_open_dev(char *err, size_t err_len)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		int e = errno;
		if (e == ENOENT)
			snprintf(err, err_len, "/dev/kvm does not exist: this machine has no KVM "
				 "(load kvm_intel/kvm_amd, or enable nested virtualisation)");
		else if (e == EACCES || e == EPERM)
			snprintf(err, err_len, "/dev/kvm is not accessible: run as root or add your "
				 "user to the 'kvm' group");
		else
			snprintf(err, err_len, "cannot open /dev/kvm: %s", strerror(e));
		return -e;
	}
	int version = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		snprintf(err, err_len, "/dev/kvm speaks KVM API %d, compsc-vmm needs %d", version,
			 KVM_API_VERSION);
		close(fd);
		return -ENOTSUP;
	}
	static const struct { int cap; const char *name; } needed[] = {
		{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
		{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
		{ KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING" },
		{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
	};
	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
		if (ioctl(fd, KVM_CHECK_EXTENSION, needed[i].cap) <= 0) {
			snprintf(err, err_len, "/dev/kvm lacks %s, which compsc-vmm needs", needed[i].name);
			close(fd);
			return -ENOTSUP;
		}
	}
	return fd;
}

static void sigusr1_noop(int sig)
{
	(void)sig;
}

static int set_memory_slot(struct vm *vm, uint32_t flags)
{
	struct kvm_userspace_memory_region slot = {
		.slot = 0, .flags = flags, .guest_phys_addr = 0, .memory_size = vm->ram_size,
		.userspace_addr = (uint64_t)(uintptr_t)vm->ram,
	};

	return ioctl(kvm_of(vm)->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0 ? -errno : 0;
}

static int kvm_vm_init(struct vm *vm, char *err, size_t errlen)
{
	struct kvm_vm *k = calloc(1, sizeof(*k));
	int ret;

	if (!k)
		return -ENOMEM;
	k->vm_fd = -1;
	vm->accel_vm = k;
	k->kvm_fd = kvm_open_dev(err, errlen);
	if (k->kvm_fd < 0)
		return k->kvm_fd;
	/* Installed before any vCPU thread exists: SIGUSR1 only kicks vCPUs
	 * out of KVM_RUN, it must never take the default (terminate) action. */
	struct sigaction sa = { .sa_handler = sigusr1_noop };
	sigaction(SIGUSR1, &sa, NULL);

	k->vm_fd = ioctl(k->kvm_fd, KVM_CREATE_VM, 0);
	if (k->vm_fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "KVM_CREATE_VM: %s", strerror(errno));
		return ret;
	}
	if ((ret = set_memory_slot(vm, 0)) < 0) {
		snprintf(err, errlen, "KVM_SET_USER_MEMORY_REGION: %s", strerror(-ret));
		return ret;
	}
	/* Only needed for real-mode emulation on VMX; harmless elsewhere. */
	if (ioctl(k->vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000ul) < 0)
		log_debug("KVM_SET_TSS_ADDR: %s (ignored)", strerror(errno));
	if (ioctl(k->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		ret = -errno;
		snprintf(err, errlen, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
		return ret;
	}
	int run_size = ioctl(k->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size <= 0) {
		snprintf(err, errlen, "KVM_GET_VCPU_MMAP_SIZE failed");
		return run_size < 0 ? -errno : -EINVAL;
	}
	k->run_size = (size_t)run_size;
	return 0;
}

static void kvm_vm_teardown(struct vm *vm)
{
	struct kvm_vm *k = kvm_of(vm);

	if (!k)
		return;
	if (k->vm_fd >= 0)
		close(k->vm_fd);
	if (k->kvm_fd >= 0)
		close(k->kvm_fd);
	free(k);
	vm->accel_vm = NULL;
}

static int set_cpuid(struct vcpu *vcpu)
{
	struct {
		struct kvm_cpuid2 head;
		struct kvm_cpuid_entry2 entries[256];
	} cpuid = { .head.nent = 256 };

	if (ioctl(kvm_of(vcpu->vm)->kvm_fd, KVM_GET_SUPPORTED_CPUID, &cpuid) < 0)
		return -errno;
	/* Leaf 1 EBX[31:24]: initial APIC ID = vCPU index. */
	for (unsigned i = 0; i < cpuid.head.nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid.entries[i];
		if (e->function == 1)
			e->ebx = (e->ebx & 0x00ffffffu) | (vcpu->id << 24);
	}
	if (ioctl(kvm_vcpu_of(vcpu)->fd, KVM_SET_CPUID2, &cpuid) < 0)
		return -errno;
	return 0;
}

static int kvm_vcpu_init(struct vcpu *vcpu, char *err, size_t errlen)
{
	struct kvm_vm *k = kvm_of(vcpu->vm);
	struct kvm_vcpu *kv = calloc(1, sizeof(*kv));
	int ret;

	if (!kv)
		return -ENOMEM;
	vcpu->accel_vcpu = kv;
	kv->fd = ioctl(k->vm_fd, KVM_CREATE_VCPU, (unsigned long)vcpu->id);
	if (kv->fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "KVM_CREATE_VCPU: %s", strerror(errno));
		return ret;
	}
	kv->run = mmap(NULL, k->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, kv->fd, 0);
	if (kv->run == MAP_FAILED) {
		ret = -errno;
		kv->run = NULL;
		snprintf(err, errlen, "mmap of kvm_run: %s", strerror(errno));
		return ret;
	}
	if ((ret = set_cpuid(vcpu)) < 0) {
		snprintf(err, errlen, "KVM_SET_CPUID2: %s", strerror(-ret));
		return ret;
	}
	if (vcpu->id == 0) {
		int khz = ioctl(kv->fd, KVM_GET_TSC_KHZ, 0);
		if (khz <= 0) {
			snprintf(err, errlen, "KVM_GET_TSC_KHZ: %s", khz < 0 ? strerror(errno) : "returned 0");
			return -ENOTSUP;
		}
		vcpu->vm->tsc_khz = (uint64_t)khz;
	}
	return 0;
}

static void kvm_vcpu_teardown(struct vcpu *vcpu)
{
	struct kvm_vcpu *kv = kvm_vcpu_of(vcpu);

	if (!kv)
		return;
	if (kv->run)
		munmap(kv->run, kvm_of(vcpu->vm)->run_size);
	if (kv->fd >= 0)
		close(kv->fd);
	free(kv);
	vcpu->accel_vcpu = NULL;
}

static int kvm_vcpu_set_boot_state(struct vcpu *vcpu, uint64_t entry, uint64_t boot_arg)
{
	int fd = kvm_vcpu_of(vcpu)->fd;
	struct kvm_sregs s;
	struct kvm_regs r;

	if (ioctl(fd, KVM_GET_SREGS, &s) < 0)
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
	if (ioctl(fd, KVM_SET_SREGS, &s) < 0)
		return -errno;

	memset(&r, 0, sizeof(r));
	r.rip = entry;
	r.rflags = 0x2;
	r.rdi = boot_arg;	/* SysV first argument: boot information */
	r.rsi = vcpu->id;
	if (ioctl(fd, KVM_SET_REGS, &r) < 0)
		return -errno;
	return 0;
}

static void kvm_vcpu_dump(struct vcpu *vcpu)
{
	int fd = kvm_vcpu_of(vcpu)->fd;
	struct kvm_regs r;
	struct kvm_sregs s;

	if (ioctl(fd, KVM_GET_REGS, &r) < 0 || ioctl(fd, KVM_GET_SREGS, &s) < 0) {
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

static void kvm_vcpu_kick(struct vcpu *vcpu)
{
	struct kvm_vcpu *kv = kvm_vcpu_of(vcpu);

	/* immediate_exit covers the window before the thread enters KVM_RUN;
	 * the signal interrupts a KVM_RUN already in progress. */
	if (kv && kv->run)
		__atomic_store_n(&kv->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&vcpu->vm->kick_lock);
	if (vcpu->thread_started)
		pthread_kill(vcpu->thread, SIGUSR1);
	pthread_mutex_unlock(&vcpu->vm->kick_lock);
}

static struct ratelimit pio_log = RATELIMIT_INIT(5);

static void handle_pio(struct vcpu *vcpu, struct kvm_run *run)
{
	uint64_t suppressed;

	/* No port-I/O devices: the guest's code runs at ring 3, where port
	 * I/O faults on PVM. Reads see all ones, writes vanish. */
	if (run->io.direction == KVM_EXIT_IO_IN)
		memset((uint8_t *)run + run->io.data_offset, 0xff, (size_t)run->io.size * run->io.count);
	if (ratelimit_pass(&pio_log, &suppressed))
		log_warn("vcpu%u: unclaimed port I/O %s port 0x%x", vcpu->id,
			 run->io.direction == KVM_EXIT_IO_IN ? "read" : "write", run->io.port);
}

static enum vcpu_run_result fatal_exit(struct vcpu *vcpu)
{
	kvm_vcpu_dump(vcpu);
	vm_request_exit(vcpu->vm, VMM_EXIT_FAULT);
	return VCPU_RUN_STOP;
}

static enum vcpu_run_result handle_exit(struct vcpu *vcpu, struct kvm_run *run)
{
	struct vm *vm = vcpu->vm;

	switch (run->exit_reason) {
	case KVM_EXIT_MMIO:
		bus_access(&vm->bus, run->mmio.phys_addr, run->mmio.data, run->mmio.len,
			   run->mmio.is_write);
		return VCPU_RUN_AGAIN;
	case KVM_EXIT_IO:
		handle_pio(vcpu, run);
		return VCPU_RUN_AGAIN;
	case KVM_EXIT_HLT:
		/* With the in-kernel LAPIC, HLT is handled by KVM; reaching
		 * here means the vCPU halted with interrupts off for good. */
		log_error("vcpu%u: guest halted with no way to wake up", vcpu->id);
		return fatal_exit(vcpu);
	case KVM_EXIT_SHUTDOWN:
		log_error("vcpu%u: guest triple fault (shutdown); registers at the last fault:", vcpu->id);
		return fatal_exit(vcpu);
	case KVM_EXIT_INTERNAL_ERROR:
		log_error("vcpu%u: KVM internal error, suberror %u", vcpu->id, run->internal.suberror);
		return fatal_exit(vcpu);
	case KVM_EXIT_FAIL_ENTRY:
		log_error("vcpu%u: KVM entry failed, hardware reason 0x%llx", vcpu->id,
			  (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return fatal_exit(vcpu);
	case KVM_EXIT_SYSTEM_EVENT:
		log_info("vcpu%u: guest system event %u", vcpu->id, run->system_event.type);
		vm_request_exit(vm, 0);
		return VCPU_RUN_STOP;
	default:
		log_error("vcpu%u: unexpected KVM exit reason %u", vcpu->id, run->exit_reason);
		return fatal_exit(vcpu);
	}
}

static enum vcpu_run_result kvm_vcpu_run(struct vcpu *vcpu)
{
	struct kvm_vcpu *kv = kvm_vcpu_of(vcpu);

	if (ioctl(kv->fd, KVM_RUN, 0) < 0) {
		if (errno == EINTR || errno == EAGAIN) {
			__atomic_store_n(&kv->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
			return VCPU_RUN_AGAIN;
		}
		log_error("vcpu%u: KVM_RUN: %s", vcpu->id, strerror(errno));
		return fatal_exit(vcpu);
	}
	return handle_exit(vcpu, kv->run);
}

/* KVM completes a pending MMIO or PIO exit only on the next KVM_RUN: one
 * KVM_RUN with immediate_exit set does that without running guest code, so
 * the state read while parked is consistent (KVM API: "immediate_exit"). */
static int kvm_vcpu_park_begin(struct vcpu *vcpu)
{
	struct kvm_vcpu *kv = kvm_vcpu_of(vcpu);

	__atomic_store_n(&kv->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (ioctl(kv->fd, KVM_RUN, 0) == 0 || (errno != EINTR && errno != EAGAIN))
		log_debug("vcpu%u: completing KVM_RUN before pause: %s", vcpu->id, strerror(errno));
	__atomic_store_n(&kv->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	return 0;
}

static void kvm_vcpu_park_end(struct vcpu *vcpu)
{
	(void)vcpu;
}

/* ---- interrupts ------------------------------------------------------------- */

static int kvm_irq_set_routes(struct vm *vm, const struct irq_route *routes, unsigned n)
{
	size_t size = sizeof(struct kvm_irq_routing) + n * sizeof(struct kvm_irq_routing_entry);
	struct kvm_irq_routing *table = calloc(1, size);
	int ret = 0;

	if (!table)
		return -ENOMEM;
	table->nr = n;
	for (unsigned i = 0; i < n; i++) {
		struct kvm_irq_routing_entry *e = &table->entries[i];
		e->gsi = routes[i].gsi;
		e->type = KVM_IRQ_ROUTING_MSI;
		/* x86 MSI: address 0xFEExx000 with the destination APIC ID in
		 * bits 19:12 (physical mode); data = vector, fixed, edge. */
		e->u.msi.address_lo = (uint32_t)CSC_LAPIC_GPA | (routes[i].dest_apic_id << 12);
		e->u.msi.address_hi = 0;
		e->u.msi.data = routes[i].vector;
	}
	if (ioctl(kvm_of(vm)->vm_fd, KVM_SET_GSI_ROUTING, table) < 0)
		ret = -errno;
	free(table);
	return ret;
}

static int kvm_irq_attach(struct vm *vm, const struct irq_route *route, int efd)
{
	struct kvm_irqfd irqfd = { .fd = (uint32_t)efd, .gsi = route->gsi };

	return ioctl(kvm_of(vm)->vm_fd, KVM_IRQFD, &irqfd) < 0 ? -errno : 0;
}

static int kvm_irq_detach(struct vm *vm, const struct irq_route *route, int efd)
{
	struct kvm_irqfd irqfd = { .fd = (uint32_t)efd, .gsi = route->gsi, .flags = KVM_IRQFD_FLAG_DEASSIGN };

	return ioctl(kvm_of(vm)->vm_fd, KVM_IRQFD, &irqfd) < 0 ? -errno : 0;
}

static int kvm_ioeventfd(struct vm *vm, uint64_t addr, uint32_t len, uint64_t datamatch, int efd, bool on)
{
	struct kvm_ioeventfd io = {
		.datamatch = datamatch, .addr = addr, .len = len, .fd = efd,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH | (on ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
	};

	return ioctl(kvm_of(vm)->vm_fd, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
}

/* ---- dirty log ------------------------------------------------------------------ */

static int kvm_dirty_log_start(struct vm *vm, char *err, size_t errlen)
{
	int ret = set_memory_slot(vm, KVM_MEM_LOG_DIRTY_PAGES);

	if (ret < 0)
		snprintf(err, errlen, "KVM_SET_USER_MEMORY_REGION (dirty logging on): %s", strerror(-ret));
	return ret;
}

static void kvm_dirty_log_stop(struct vm *vm)
{
	int ret = set_memory_slot(vm, 0);

	if (ret < 0)
		log_warn("migration: cannot turn KVM dirty logging off: %s", strerror(-ret));
}

static int kvm_dirty_log_collect(struct vm *vm, uint64_t *bitmap, char *err, size_t errlen)
{
	uint64_t words = (vm->n_pages + 63) / 64;
	uint64_t *log_bits = calloc(words, sizeof(uint64_t));
	struct kvm_dirty_log log = { .slot = 0, .dirty_bitmap = log_bits };
	int ret = 0;

	if (!log_bits)
		return -ENOMEM;
	/* KVM_GET_DIRTY_LOG also clears the log and re-protects the pages. */
	if (ioctl(kvm_of(vm)->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0) {
		ret = -errno;
		snprintf(err, errlen, "KVM_GET_DIRTY_LOG: %s", strerror(errno));
	} else {
		for (uint64_t i = 0; i < words; i++)
			bitmap[i] |= log_bits[i];
	}
	free(log_bits);
	return ret;
}

/* ---- migration state ------------------------------------------------------------ */

struct accel_state {
	unsigned n_vcpus;
	struct mig_vm_state vm;
	struct mig_vcpu_state vcpus[];
};

static int kvm_cpuid_summary(struct vm *vm, struct mig_cpuid_summary *out)
{
	return mig_cpuid_read(&vm->vcpus[0], out);
}

static struct accel_state *kvm_state_new(struct vm *vm)
{
	struct accel_state *s = calloc(1, sizeof(*s) + vm->n_vcpus * sizeof(s->vcpus[0]));

	if (s)
		s->n_vcpus = vm->n_vcpus;
	return s;
}

static void kvm_state_free(struct accel_state *s)
{
	free(s);
}

static int kvm_state_save(struct vm *vm, struct accel_state *s, char *err, size_t errlen)
{
	int ret;

	/* MP_STATE first, events last, all parked (cpustate.h). */
	for (unsigned i = 0; i < s->n_vcpus; i++)
		if ((ret = mig_vcpu_save(&vm->vcpus[i], &s->vcpus[i], err, errlen)) < 0)
			return ret;
	return mig_vm_save(vm, &s->vm, err, errlen);
}

static int kvm_state_send(struct vm *vm, const struct accel_state *s, struct mig_io *io)
{
	int ret = 0;

	(void)vm;
	for (unsigned i = 0; i < s->n_vcpus && ret == 0; i++)
		ret = mig_vcpu_send(io, i, &s->vcpus[i]);
	return ret ? ret : mig_vm_send(io, &s->vm);
}

static bool kvm_state_owns_record(uint16_t type)
{
	return (type >= MIG_REC_CPU_MP_STATE && type <= MIG_REC_CPU_EVENTS) || type == MIG_REC_VM_CLOCK ||
	       type == MIG_REC_VM_IRQCHIP;
}

static int kvm_state_rx(struct vm *vm, struct accel_state *s, const struct mig_rec *rec, char *err,
			size_t errlen)
{
	return mig_cpu_rx(s->vcpus, s->n_vcpus, &s->vm, vm->ram_size, rec, err, errlen);
}

static int kvm_state_complete(struct vm *vm, const struct accel_state *s, char *err, size_t errlen)
{
	(void)vm;
	return mig_cpu_rx_complete(s->vcpus, s->n_vcpus, &s->vm, err, errlen);
}

static int kvm_state_load(struct vm *vm, const struct accel_state *s, char *err, size_t errlen)
{
	int ret;

	for (unsigned i = 0; i < s->n_vcpus; i++)
		if ((ret = mig_vcpu_load(&vm->vcpus[i], &s->vcpus[i], err, errlen)) < 0)
			return ret;
	return mig_vm_load(vm, &s->vm, err, errlen);
}

const struct accel_ops accel_kvm_ops = {
	.name = "kvm",
	.guest_binding = CSC_BINDING_KVM,
	.boot_accel = CSC_ACCEL_KVM,
	.vm_init = kvm_vm_init,
	.vm_teardown = kvm_vm_teardown,
	.vcpu_init = kvm_vcpu_init,
	.vcpu_teardown = kvm_vcpu_teardown,
	.vcpu_set_boot_state = kvm_vcpu_set_boot_state,
	.vcpu_run = kvm_vcpu_run,
	.vcpu_park_begin = kvm_vcpu_park_begin,
	.vcpu_park_end = kvm_vcpu_park_end,
	.vcpu_kick = kvm_vcpu_kick,
	.vcpu_dump = kvm_vcpu_dump,
	.irq_set_routes = kvm_irq_set_routes,
	.irq_attach = kvm_irq_attach,
	.irq_detach = kvm_irq_detach,
	.ioeventfd = kvm_ioeventfd,
	.dirty_log_start = kvm_dirty_log_start,
	.dirty_log_stop = kvm_dirty_log_stop,
	.dirty_log_collect = kvm_dirty_log_collect,
	.cpuid_summary = kvm_cpuid_summary,
	.state_new = kvm_state_new,
	.state_free = kvm_state_free,
	.state_save = kvm_state_save,
	.state_send = kvm_state_send,
	.state_owns_record = kvm_state_owns_record,
	.state_rx = kvm_state_rx,
	.state_complete = kvm_state_complete,
	.state_load = kvm_state_load,
};
