/* The proc accelerator's dirty log and migration state (proc.c has the
 * rest). The dirty log is userfaultfd write-protection in async mode on
 * the guest process's RAM mapping, read and re-armed with PAGEMAP_SCAN on
 * its pagemap: exactly the guest's own writes, never another process's
 * (the NIC's DMA) nor the VMM's. The vCPU state is what the pause handler
 * left in the control page, sent as one PROC_VCPU record. */
#include <cpuid.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/layout.h"
#include "../../common/log.h"
#include "../migration/stream.h"
#include "proc_internal.h"

/* ---- dirty log ---------------------------------------------------------------------- */

int proc_dirty_log_start(struct vm *vm, char *err, size_t errlen)
{
	struct proc_vm *p = proc_of(vm);

	if (p->uffd < 0) {
		snprintf(err, errlen, "the proc accelerator has no dirty log on this host: %s", p->dirty_log_err);
		return -ENOTSUP;
	}
	struct uffdio_writeprotect wp = {
		.range = { .start = CSC_PAGE_SIZE, .len = vm->ram_size - CSC_PAGE_SIZE },
		.mode = UFFDIO_WRITEPROTECT_MODE_WP,
	};
	if (ioctl(p->uffd, UFFDIO_WRITEPROTECT, &wp) < 0) {
		int e = errno;
		snprintf(err, errlen, "UFFDIO_WRITEPROTECT: %s", strerror(e));
		return -e;
	}
	return 0;
}

void proc_dirty_log_stop(struct vm *vm)
{
	struct proc_vm *p = proc_of(vm);

	if (p->uffd < 0)
		return;
	struct uffdio_writeprotect wp = {
		.range = { .start = CSC_PAGE_SIZE, .len = vm->ram_size - CSC_PAGE_SIZE },
		.mode = 0,
	};
	if (ioctl(p->uffd, UFFDIO_WRITEPROTECT, &wp) < 0)
		log_warn("migration: cannot turn the proc dirty log off: %s", strerror(errno));
}

/* The pages the guest process wrote since the last scan, re-protected in
 * the same call. The result vector is bounded, so walk until the end. */
int proc_dirty_log_collect(struct vm *vm, uint64_t *bitmap, char *err, size_t errlen)
{
	struct proc_vm *p = proc_of(vm);
	struct pm_scan_region vec[SCAN_VEC];
	uint64_t start = CSC_PAGE_SIZE, end = vm->ram_size;

	if (p->pagemap_fd < 0) {
		snprintf(err, errlen, "no dirty log: %s", p->dirty_log_err);
		return -ENOTSUP;
	}
	while (start < end) {
		struct pm_scan_arg a = {
			.size = sizeof(a), .flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
			.start = start, .end = end, .vec = (uint64_t)(uintptr_t)vec, .vec_len = SCAN_VEC,
			.category_mask = PAGE_IS_WRITTEN, .return_mask = PAGE_IS_WRITTEN,
		};
		long n = ioctl(p->pagemap_fd, PAGEMAP_SCAN, &a);
		if (n < 0) {
			int e = errno;
			if (e == ENOTTY || e == EINVAL)
				snprintf(err, errlen, "PAGEMAP_SCAN is not supported by this kernel (needs Linux 6.7)");
			else
				snprintf(err, errlen, "PAGEMAP_SCAN: %s", strerror(e));
			return -e;
		}
		for (long i = 0; i < n; i++) {
			uint64_t lo = vec[i].start, hi = vec[i].end;
			if (lo < start || hi > end || lo >= hi)
				continue;
			for (uint64_t pfn = lo / CSC_PAGE_SIZE; pfn < hi / CSC_PAGE_SIZE; pfn++)
				bitmap[pfn / 64] |= 1ull << (pfn % 64);
		}
		if (a.walk_end <= start)
			break;
		start = a.walk_end;
	}
	return 0;
}

/* ---- migration state ---------------------------------------------------------------- */

/* PROC_VCPU record body (little-endian):
 *   u32 vcpu id | u32 version (1) | u64 regs[PR_COUNT] (sigcontext order)
 *   | u8 fxsave[416] | u64 irq_total_gpa | u64 irq_counts_gpa */
#define PROC_STATE_VERSION 1
#define PROC_FX_WIRE 416
#define PROC_STATE_LEN (8 + 8 * PR_COUNT + PROC_FX_WIRE + 16)

struct accel_state {
	bool have;
	uint64_t regs[PR_COUNT];
	uint8_t fx[PROC_FX_WIRE];
	uint64_t irq_total_gpa, irq_counts_gpa;
};

int proc_cpuid_summary(struct vm *vm, struct mig_cpuid_summary *out)
{
	unsigned a, b, c, d;

	(void)vm;
	/* The guest process runs on the host CPU: what it sees is CPUID. */
	memset(out, 0, sizeof(*out));
	if (__get_cpuid_count(1, 0, &a, &b, &c, &d)) {
		out->w[0] = c & ~(1u << 27);	/* OSXSAVE is OS state, not a feature */
		out->w[1] = d;
	}
	if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
		out->w[2] = b;
		out->w[3] = c & ~(1u << 4);	/* OSPKE likewise */
		out->w[4] = d;
	}
	if (__get_cpuid_count(0xd, 0, &a, &b, &c, &d))
		out->w[5] = a;
	if (__get_cpuid_count(0xd, 1, &a, &b, &c, &d))
		out->w[6] = a;
	if (__get_cpuid_count(0x80000001, 0, &a, &b, &c, &d)) {
		out->w[7] = c;
		out->w[8] = d;
	}
	return 0;
}

struct accel_state *proc_state_new(struct vm *vm)
{
	(void)vm;
	return calloc(1, sizeof(struct accel_state));
}

void proc_state_free(struct accel_state *s)
{
	free(s);
}

int proc_state_save(struct vm *vm, struct accel_state *s, char *err, size_t errlen)
{
	struct proc_vm *p = proc_of(vm);

	if (!p->started) {
		snprintf(err, errlen, "the guest has not started");
		return -EINVAL;
	}
	memcpy(s->regs, p->ctl->regs, sizeof(s->regs));
	memcpy(s->fx, p->ctl->fxsave, PROC_FX_WIRE);
	s->irq_total_gpa = atomic_load(&p->irq_total_gpa);
	s->irq_counts_gpa = atomic_load(&p->irq_counts_gpa);
	s->have = true;
	return 0;
}

int proc_state_send(struct vm *vm, const struct accel_state *s, struct mig_io *io)
{
	uint8_t b[PROC_STATE_LEN], *q = b;

	(void)vm;
	mig_put32(q, 0);
	mig_put32(q + 4, PROC_STATE_VERSION);
	q += 8;
	for (int i = 0; i < PR_COUNT; i++, q += 8)
		mig_put64(q, s->regs[i]);
	memcpy(q, s->fx, PROC_FX_WIRE);
	q += PROC_FX_WIRE;
	mig_put64(q, s->irq_total_gpa);
	mig_put64(q + 8, s->irq_counts_gpa);
	return mig_send(io, MIG_REC_PROC_VCPU, b, sizeof(b));
}

bool proc_state_owns_record(uint16_t type)
{
	return type == MIG_REC_PROC_VCPU;
}

static bool user_canonical(uint64_t a)
{
	return a < (1ull << 47);
}

int proc_state_rx(struct vm *vm, struct accel_state *s, const struct mig_rec *rec, char *err, size_t errlen)
{
	const uint8_t *q = rec->body;

	if (rec->len != PROC_STATE_LEN) {
		snprintf(err, errlen, "PROC_VCPU is %u bytes, expected %d", rec->len, PROC_STATE_LEN);
		return -EINVAL;
	}
	if (mig_get32(q) != 0 || mig_get32(q + 4) != PROC_STATE_VERSION) {
		snprintf(err, errlen, "PROC_VCPU for vcpu%u version %u; this VMM has vcpu0, version %d", mig_get32(q),
			 mig_get32(q + 4), PROC_STATE_VERSION);
		return -EINVAL;
	}
	if (s->have) {
		snprintf(err, errlen, "PROC_VCPU received twice");
		return -EINVAL;
	}
	q += 8;
	for (int i = 0; i < PR_COUNT; i++, q += 8)
		s->regs[i] = mig_get64(q);
	memcpy(s->fx, q, PROC_FX_WIRE);
	q += PROC_FX_WIRE;
	s->irq_total_gpa = mig_get64(q);
	s->irq_counts_gpa = mig_get64(q + 8);
	if (!user_canonical(s->regs[PR_RIP]) || !user_canonical(s->regs[PR_RSP])) {
		snprintf(err, errlen, "PROC_VCPU: rip 0x%" PRIx64 " / rsp 0x%" PRIx64 " outside user space",
			 s->regs[PR_RIP], s->regs[PR_RSP]);
		return -EINVAL;
	}
	if (s->irq_total_gpa && (!vm_gpa_to_hva(vm, s->irq_total_gpa, 4) || !vm_gpa_to_hva(vm, s->irq_counts_gpa, 1024) ||
				 (s->irq_total_gpa & 3) || (s->irq_counts_gpa & 3))) {
		snprintf(err, errlen, "PROC_VCPU: interrupt counters at 0x%" PRIx64 "/0x%" PRIx64 " lie outside RAM",
			 s->irq_total_gpa, s->irq_counts_gpa);
		return -EINVAL;
	}
	s->have = true;
	return 0;
}

int proc_state_complete(struct vm *vm, const struct accel_state *s, char *err, size_t errlen)
{
	(void)vm;
	if (!s->have) {
		snprintf(err, errlen, "vcpu0 state (PROC_VCPU) missing");
		return -EINVAL;
	}
	return 0;
}

/* Into the new sandbox, which has not run yet: the start command makes it
 * enter the guest with exactly these registers. */
int proc_state_load(struct vm *vm, const struct accel_state *s, char *err, size_t errlen)
{
	struct proc_vm *p = proc_of(vm);

	if (p->started) {
		snprintf(err, errlen, "the destination's guest process already ran");
		return -EBUSY;
	}
	memcpy(p->ctl->regs, s->regs, sizeof(s->regs));
	memcpy(p->ctl->fxsave, s->fx, PROC_FX_WIRE);
	atomic_store(&p->irq_counts_gpa, s->irq_counts_gpa);
	atomic_store(&p->irq_total_gpa, s->irq_total_gpa);
	/* A wake-up for whatever was raised during the downtime: the guest
	 * re-polls its devices, as after any interrupt. */
	atomic_store(&p->irq_pending, 1);
	if (s->irq_total_gpa)
		proc_deliver(p, 256);
	atomic_store(&p->irq_pending, 0);
	return 0;
}

