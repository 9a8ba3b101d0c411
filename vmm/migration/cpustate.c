/* vCPU and VM state for migration (see cpustate.h for the order). */
#include "cpustate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "../../common/layout.h"
#include "../../common/log.h"
#include "../accel/kvm.h"

#define MSR_IA32_TSC		0x10
#define MSR_IA32_TSC_DEADLINE	0x6e0

/* The MSRs that carry guest state worth moving; anything else in a stream
 * is rejected. KVM's own MSR list (KVM_GET_MSR_INDEX_LIST) narrows it
 * further on the source. */
static const uint32_t msr_allow[] = {
	MSR_IA32_TSC, 0x1b /* APICBASE */, 0x3b /* TSC_ADJUST */,
	0x174, 0x175, 0x176 /* SYSENTER_CS/ESP/EIP */, 0x1a0 /* MISC_ENABLE */, 0x277 /* PAT */,
	MSR_IA32_TSC_DEADLINE,
	0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084 /* STAR, LSTAR, CSTAR, SFMASK */,
	0xc0000100, 0xc0000101, 0xc0000102 /* FS, GS, KERNEL_GS base */, 0xc0000103 /* TSC_AUX */,
	0x11, 0x12 /* KVM clock (old) */,
	0x4b564d00, 0x4b564d01, 0x4b564d02, 0x4b564d03, 0x4b564d04, 0x4b564d05, 0x4b564d06,
	0x4b564d07 /* KVM paravirtual MSRs */,
};

bool mig_msr_allowed(uint32_t index)
{
	for (size_t i = 0; i < sizeof(msr_allow) / sizeof(msr_allow[0]); i++)
		if (msr_allow[i] == index)
			return true;
	return false;
}

/* ---- CPUID -------------------------------------------------------------- */

/* Bits that reflect guest control-register state, not CPU features. */
#define CPUID1_ECX_OSXSAVE (1u << 27)
#define CPUID7_ECX_OSPKE (1u << 4)

int mig_cpuid_read(struct vcpu *vcpu, struct mig_cpuid_summary *out)
{
	struct {
		struct kvm_cpuid2 head;
		struct kvm_cpuid_entry2 e[256];
	} c = { .head.nent = 256 };

	if (ioctl(kvm_vcpu_of(vcpu)->fd, KVM_GET_CPUID2, &c) < 0)
		return -errno;
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < c.head.nent && i < 256; i++) {
		const struct kvm_cpuid_entry2 *e = &c.e[i];
		if (e->function == 1) {
			out->w[0] = e->ecx & ~CPUID1_ECX_OSXSAVE;
			out->w[1] = e->edx;
		} else if (e->function == 7 && e->index == 0) {
			out->w[2] = e->ebx;
			out->w[3] = e->ecx & ~CPUID7_ECX_OSPKE;
			out->w[4] = e->edx;
		} else if (e->function == 0xd && e->index == 0) {
			out->w[5] = e->eax;
		} else if (e->function == 0xd && e->index == 1) {
			out->w[6] = e->eax;
		} else if (e->function == 0x80000001) {
			out->w[7] = e->ecx;
			out->w[8] = e->edx;
		}
	}
	return 0;
}

int mig_cpuid_check(const struct mig_cpuid_summary *src, const struct mig_cpuid_summary *dst, char *err,
		    size_t errlen)
{
	for (int i = 0; i < MIG_CPUID_WORDS; i++) {
		uint32_t missing = src->w[i] & ~dst->w[i];
		if (missing) {
			snprintf(err, errlen, "CPU features differ: CPUID %s bits 0x%08x of the source are "
				 "missing on the destination", mig_cpuid_word_names[i], missing);
			return -ENOTSUP;
		}
	}
	return 0;
}

/* ---- KVM save / load -------------------------------------------------------- */

static int msr_list(struct vm *vm, uint32_t *out, uint32_t *n)
{
	struct {
		struct kvm_msr_list head;
		uint32_t idx[1024];
	} l = { .head.nmsrs = 1024 };

	*n = 0;
	if (ioctl(kvm_of(vm)->kvm_fd, KVM_GET_MSR_INDEX_LIST, &l) < 0)
		return -errno;
	for (uint32_t i = 0; i < l.head.nmsrs && i < 1024 && *n < MIG_MAX_MSRS; i++)
		if (mig_msr_allowed(l.idx[i]))
			out[(*n)++] = l.idx[i];
	return 0;
}

#define KVM_CALL(fd, req, arg, what)                                                          \
	do {                                                                                  \
		if (ioctl(fd, req, arg) < 0) {                                                \
			int e_ = errno;                                                       \
			snprintf(err, errlen, "vcpu%u: %s: %s", vcpu->id, what, strerror(e_)); \
			return -e_;                                                           \
		}                                                                             \
	} while (0)

int mig_vcpu_save(struct vcpu *vcpu, struct mig_vcpu_state *s, char *err, size_t errlen)
{
	struct {
		struct kvm_msrs head;
		struct kvm_msr_entry e[MIG_MAX_MSRS];
	} m;
	uint32_t idx[MIG_MAX_MSRS], n;
	int ret;

	memset(s, 0, sizeof(*s));
	KVM_CALL(kvm_vcpu_of(vcpu)->fd, KVM_GET_MP_STATE, &s->mp, "KVM_GET_MP_STATE");
	KVM_CALL(kvm_vcpu_of(vcpu)->fd, KVM_GET_REGS, &s->regs, "KVM_GET_REGS");
	KVM_CALL(kvm_vcpu_of(vcpu)->fd, KVM_GET_SREGS, &s->sregs, "KVM_GET_SREGS");
	KVM_CALL(kvm_vcpu_of(vcpu)->fd, KVM_GET_XSAVE, &s->xsave, "KVM_GET_XSAVE");
	KVM_CALL(kvm_vcpu_of(vcpu)->fd, KVM_GET_XCRS, &s->xcrs, "KVM_GET_XCRS");
	KVM_CALL(kvm_vcpu_of(vcpu)->fd, KVM_GET_DEBUGREGS, &s->dbg, "KVM_GET_DEBUGREGS");
	KVM_CALL(kvm_vcpu_of(vcpu)->fd, KVM_GET_LAPIC, &s->lapic, "KVM_GET_LAPIC");
	ret = msr_list(vcpu->vm, idx, &n);
	if (ret < 0) {
		snprintf(err, errlen, "KVM_GET_MSR_INDEX_LIST: %s", strerror(-ret));
		return ret;
	}
	/* KVM_GET_MSRS stops at the first MSR it cannot read: drop that one
	 * and try again, so one unsupported MSR does not cost the others. */
	for (;;) {
		memset(&m, 0, sizeof(m));
		m.head.nmsrs = n;
		for (uint32_t i = 0; i < n; i++)
			m.e[i].index = idx[i];
		int got = ioctl(kvm_vcpu_of(vcpu)->fd, KVM_GET_MSRS, &m);
		if (got < 0) {
			snprintf(err, errlen, "vcpu%u: KVM_GET_MSRS: %s", vcpu->id, strerror(errno));
			return -errno;
		}
		if ((uint32_t)got == n)
			break;
		log_debug("vcpu%u: MSR 0x%x not readable, not migrated", vcpu->id, idx[got]);
		memmove(&idx[got], &idx[got + 1], (n - (uint32_t)got - 1) * sizeof(idx[0]));
		n--;
	}
	s->nmsrs = n;
	memcpy(s->msrs, m.e, n * sizeof(m.e[0]));
	KVM_CALL(kvm_vcpu_of(vcpu)->fd, KVM_GET_VCPU_EVENTS, &s->events, "KVM_GET_VCPU_EVENTS");
	s->have = MIG_CPU_ALL;
	return 0;
}

static int set_msrs(struct vcpu *vcpu, const struct kvm_msr_entry *e, uint32_t n, char *err, size_t errlen)
{
	struct {
		struct kvm_msrs head;
		struct kvm_msr_entry e[MIG_MAX_MSRS];
	} m = { .head.nmsrs = n };

	if (!n)
		return 0;
	memcpy(m.e, e, n * sizeof(e[0]));
	int set = ioctl(kvm_vcpu_of(vcpu)->fd, KVM_SET_MSRS, &m);
	if (set < 0 || (uint32_t)set != n) {
		/* A short count means MSR e[set] was refused. */
		snprintf(err, errlen, "vcpu%u: KVM_SET_MSRS set %d of %u (MSR 0x%x refused)", vcpu->id, set,
			 n, set >= 0 && (uint32_t)set < n ? e[set].index : 0);
		return -EINVAL;
	}
	return 0;
}

int mig_vcpu_load(struct vcpu *vcpu, const struct mig_vcpu_state *s, char *err, size_t errlen)
{
	struct kvm_msr_entry first[MIG_MAX_MSRS], last[MIG_MAX_MSRS];
	uint32_t nf = 0, nl = 0;
	int ret;

	KVM_CALL(kvm_vcpu_of(vcpu)->fd, KVM_SET_MP_STATE, &s->mp, "KVM_SET_MP_STATE");
	KVM_CALL(kvm_vcpu_of(vcpu)->fd, KVM_SET_REGS, &s->regs, "KVM_SET_REGS");
	KVM_CALL(kvm_vcpu_of(vcpu)->fd, KVM_SET_SREGS, &s->sregs, "KVM_SET_SREGS");
	KVM_CALL(kvm_vcpu_of(vcpu)->fd, KVM_SET_XSAVE, &s->xsave, "KVM_SET_XSAVE");
	KVM_CALL(kvm_vcpu_of(vcpu)->fd, KVM_SET_XCRS, &s->xcrs, "KVM_SET_XCRS");
	KVM_CALL(kvm_vcpu_of(vcpu)->fd, KVM_SET_DEBUGREGS, &s->dbg, "KVM_SET_DEBUGREGS");
	KVM_CALL(kvm_vcpu_of(vcpu)->fd, KVM_SET_LAPIC, &s->lapic, "KVM_SET_LAPIC");
	/* TSC_DEADLINE is relative to the TSC: set it after the TSC. */
	for (uint32_t i = 0; i < s->nmsrs; i++) {
		if (s->msrs[i].index == MSR_IA32_TSC_DEADLINE)
			last[nl++] = s->msrs[i];
		else
			first[nf++] = s->msrs[i];
	}
	ret = set_msrs(vcpu, first, nf, err, errlen);
	if (ret == 0)
		ret = set_msrs(vcpu, last, nl, err, errlen);
	if (ret < 0)
		return ret;
	KVM_CALL(kvm_vcpu_of(vcpu)->fd, KVM_SET_VCPU_EVENTS, &s->events, "KVM_SET_VCPU_EVENTS");
	return 0;
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int mig_vm_save(struct vm *vm, struct mig_vm_state *s, char *err, size_t errlen)
{
	struct kvm_clock_data clock;

	memset(s, 0, sizeof(*s));
	memset(&clock, 0, sizeof(clock));
	if (ioctl(kvm_of(vm)->vm_fd, KVM_GET_CLOCK, &clock) < 0) {
		snprintf(err, errlen, "KVM_GET_CLOCK: %s", strerror(errno));
		return -errno;
	}
	s->clock_ns = clock.clock;
	s->realtime_ns = realtime_ns();
	for (uint32_t chip = 0; chip < 3; chip++) {
		s->chip[chip].chip_id = chip;
		if (ioctl(kvm_of(vm)->vm_fd, KVM_GET_IRQCHIP, &s->chip[chip]) < 0) {
			snprintf(err, errlen, "KVM_GET_IRQCHIP(%u): %s", chip, strerror(errno));
			return -errno;
		}
	}
	s->have = MIG_VM_ALL;
	return 0;
}

int mig_vm_load(struct vm *vm, const struct mig_vm_state *s, char *err, size_t errlen)
{
	struct kvm_clock_data clock;
	uint64_t now = realtime_ns();

	/* Keep guest time moving forward across the downtime when both sides'
	 * wall clocks agree (always true on one host); never move it back. */
	memset(&clock, 0, sizeof(clock));
	clock.clock = s->clock_ns;
	if (now > s->realtime_ns && now - s->realtime_ns < 60ull * 1000000000ull)
		clock.clock += now - s->realtime_ns;
	clock.flags = 0;	/* KVM_CLOCK_TSC_STABLE is output only */
	if (ioctl(kvm_of(vm)->vm_fd, KVM_SET_CLOCK, &clock) < 0) {
		snprintf(err, errlen, "KVM_SET_CLOCK: %s", strerror(errno));
		return -errno;
	}
	for (uint32_t chip = 0; chip < 3; chip++) {
		struct kvm_irqchip c = s->chip[chip];
		if (ioctl(kvm_of(vm)->vm_fd, KVM_SET_IRQCHIP, &c) < 0) {
			snprintf(err, errlen, "KVM_SET_IRQCHIP(%u): %s", chip, strerror(errno));
			return -errno;
		}
	}
	return 0;
}

/* ---- stream ------------------------------------------------------------------- */

static int send_part(struct mig_io *io, uint16_t type, uint32_t id, uint32_t aux, const void *data,
		     size_t len)
{
	uint8_t head[8];
	struct iovec iov[2] = { { head, sizeof(head) }, { (void *)data, len } };

	mig_put32(head, id);
	mig_put32(head + 4, aux);
	return mig_sendv(io, type, iov, 2);
}

int mig_vcpu_send(struct mig_io *io, uint32_t id, const struct mig_vcpu_state *s)
{
	int ret;

	if ((ret = send_part(io, MIG_REC_CPU_MP_STATE, id, 0, &s->mp, sizeof(s->mp))) < 0 ||
	    (ret = send_part(io, MIG_REC_CPU_REGS, id, 0, &s->regs, sizeof(s->regs))) < 0 ||
	    (ret = send_part(io, MIG_REC_CPU_SREGS, id, 0, &s->sregs, sizeof(s->sregs))) < 0 ||
	    (ret = send_part(io, MIG_REC_CPU_XSAVE, id, 0, &s->xsave, sizeof(s->xsave))) < 0 ||
	    (ret = send_part(io, MIG_REC_CPU_XCRS, id, 0, &s->xcrs, sizeof(s->xcrs))) < 0 ||
	    (ret = send_part(io, MIG_REC_CPU_DEBUGREGS, id, 0, &s->dbg, sizeof(s->dbg))) < 0 ||
	    (ret = send_part(io, MIG_REC_CPU_LAPIC, id, 0, &s->lapic, sizeof(s->lapic))) < 0 ||
	    (ret = send_part(io, MIG_REC_CPU_MSRS, id, s->nmsrs, s->msrs, s->nmsrs * sizeof(s->msrs[0]))) < 0 ||
	    (ret = send_part(io, MIG_REC_CPU_EVENTS, id, 0, &s->events, sizeof(s->events))) < 0)
		return ret;
	return 0;
}

int mig_vm_send(struct mig_io *io, const struct mig_vm_state *s)
{
	uint8_t clock[16];
	int ret;

	mig_put64(clock, s->clock_ns);
	mig_put64(clock + 8, s->realtime_ns);
	ret = mig_send(io, MIG_REC_VM_CLOCK, clock, sizeof(clock));
	for (uint32_t chip = 0; chip < 3 && ret == 0; chip++)
		ret = send_part(io, MIG_REC_VM_IRQCHIP, chip, 0, &s->chip[chip].chip, sizeof(s->chip[chip].chip));
	return ret;
}

static bool canonical(uint64_t a)
{
	return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

#define REJECT(...)                                    \
	do {                                           \
		snprintf(err, errlen, __VA_ARGS__);    \
		return -EINVAL;                        \
	} while (0)

static int check_regs(const struct kvm_regs *r, uint32_t id, char *err, size_t errlen)
{
	if (!canonical(r->rip) || !canonical(r->rsp))
		REJECT("vcpu%u: rip 0x%llx / rsp 0x%llx not canonical", id, r->rip, r->rsp);
	/* Bit 1 always set; bits 3, 5, 15 and 22..63 reserved (zero). */
	if (!(r->rflags & 2) || (r->rflags & (0x8028ull | ~0x3fffffull)))
		REJECT("vcpu%u: rflags 0x%llx has reserved bits wrong", id, r->rflags);
	return 0;
}

static int check_sregs(const struct kvm_sregs *s, uint32_t id, uint64_t ram_size, char *err, size_t errlen)
{
	const uint64_t efer_known = 0x1ull | 0x100 | 0x400 | 0x800 | 0x1000 | 0x2000 | 0x4000 | 0x8000;

	if (s->efer & ~efer_known)
		REJECT("vcpu%u: EFER 0x%llx has unknown bits", id, s->efer);
	if (s->cr0 >> 32 || s->cr4 >> 26 || s->cr8 > 15)
		REJECT("vcpu%u: cr0 0x%llx / cr4 0x%llx / cr8 %llu out of range", id, s->cr0, s->cr4, s->cr8);
	if ((s->cr0 & (1ull << 31)) && (s->cr3 & ~0xfffull) >= ram_size)
		REJECT("vcpu%u: page tables at cr3 0x%llx lie outside guest RAM", id, s->cr3);
	if ((s->apic_base & ~0xd00ull) != CSC_LAPIC_GPA)
		REJECT("vcpu%u: APIC base 0x%llx is not the platform's 0x%llx", id, s->apic_base,
		       (unsigned long long)CSC_LAPIC_GPA);
	return 0;
}

static int take(struct mig_vcpu_state *s, uint32_t part, void *dst, size_t want, const uint8_t *src,
		uint32_t len, const char *name, uint32_t id, char *err, size_t errlen)
{
	if (s->have & part)
		REJECT("vcpu%u: %s received twice", id, name);
	if (len != want)
		REJECT("vcpu%u: %s is %u bytes, expected %zu", id, name, len, want);
	memcpy(dst, src, want);
	s->have |= part;
	return 0;
}

int mig_cpu_rx(struct mig_vcpu_state *states, uint32_t n_vcpus, struct mig_vm_state *vm, uint64_t ram_size,
	       const struct mig_rec *rec, char *err, size_t errlen)
{
	if (rec->type == MIG_REC_VM_CLOCK) {
		if (rec->len != 16)
			REJECT("VM_CLOCK is %u bytes, expected 16", rec->len);
		if (vm->have & MIG_VM_CLOCK)
			REJECT("VM_CLOCK received twice");
		vm->clock_ns = mig_get64(rec->body);
		vm->realtime_ns = mig_get64(rec->body + 8);
		vm->have |= MIG_VM_CLOCK;
		return 0;
	}
	if (rec->len < 8)
		REJECT("%s record of %u bytes is too short", mig_rec_name(rec->type), rec->len);
	uint32_t id = mig_get32(rec->body), aux = mig_get32(rec->body + 4);
	const uint8_t *p = rec->body + 8;
	uint32_t len = rec->len - 8;

	if (rec->type == MIG_REC_VM_IRQCHIP) {
		if (id > 2)
			REJECT("VM_IRQCHIP: chip %u does not exist", id);
		if (vm->have & (MIG_VM_PIC_MASTER << id))
			REJECT("VM_IRQCHIP %u received twice", id);
		if (len != sizeof(vm->chip[id].chip) || aux != 0)
			REJECT("VM_IRQCHIP %u is %u bytes, expected %zu", id, len, sizeof(vm->chip[id].chip));
		memset(&vm->chip[id], 0, sizeof(vm->chip[id]));
		vm->chip[id].chip_id = id;
		memcpy(&vm->chip[id].chip, p, len);
		if (id == 2 && vm->chip[2].chip.ioapic.base_address != CSC_IOAPIC_GPA)
			REJECT("VM_IRQCHIP: IOAPIC base 0x%llx is not the platform's",
			       (unsigned long long)vm->chip[2].chip.ioapic.base_address);
		vm->have |= MIG_VM_PIC_MASTER << id;
		return 0;
	}
	if (id >= n_vcpus)
		REJECT("%s for vcpu%u, the VM has %u", mig_rec_name(rec->type), id, n_vcpus);
	struct mig_vcpu_state *s = &states[id];
	int ret;
	switch (rec->type) {
	case MIG_REC_CPU_MP_STATE:
		ret = take(s, MIG_CPU_MP_STATE, &s->mp, sizeof(s->mp), p, len, "MP_STATE", id, err, errlen);
		if (ret == 0 && s->mp.mp_state > KVM_MP_STATE_SIPI_RECEIVED)
			REJECT("vcpu%u: MP state %u is not an x86 state", id, s->mp.mp_state);
		return ret;
	case MIG_REC_CPU_REGS:
		ret = take(s, MIG_CPU_REGS, &s->regs, sizeof(s->regs), p, len, "REGS", id, err, errlen);
		return ret ? ret : check_regs(&s->regs, id, err, errlen);
	case MIG_REC_CPU_SREGS:
		ret = take(s, MIG_CPU_SREGS, &s->sregs, sizeof(s->sregs), p, len, "SREGS", id, err, errlen);
		return ret ? ret : check_sregs(&s->sregs, id, ram_size, err, errlen);
	case MIG_REC_CPU_XSAVE:
		return take(s, MIG_CPU_XSAVE, &s->xsave, sizeof(s->xsave), p, len, "XSAVE", id, err, errlen);
	case MIG_REC_CPU_XCRS:
		ret = take(s, MIG_CPU_XCRS, &s->xcrs, sizeof(s->xcrs), p, len, "XCRS", id, err, errlen);
		if (ret)
			return ret;
		if (s->xcrs.nr_xcrs > 1 || s->xcrs.flags)
			REJECT("vcpu%u: %u XCRs (flags 0x%x); only XCR0 exists", id, s->xcrs.nr_xcrs, s->xcrs.flags);
		if (s->xcrs.nr_xcrs == 1 && (s->xcrs.xcrs[0].xcr != 0 || !(s->xcrs.xcrs[0].value & 1)))
			REJECT("vcpu%u: XCR%u = 0x%llx is not a valid XCR0", id, s->xcrs.xcrs[0].xcr,
			       s->xcrs.xcrs[0].value);
		return 0;
	case MIG_REC_CPU_DEBUGREGS:
		ret = take(s, MIG_CPU_DEBUGREGS, &s->dbg, sizeof(s->dbg), p, len, "DEBUGREGS", id, err, errlen);
		if (ret == 0 && (s->dbg.flags || s->dbg.dr6 >> 32 || s->dbg.dr7 >> 32))
			REJECT("vcpu%u: debug registers dr6 0x%llx dr7 0x%llx flags 0x%llx invalid", id, s->dbg.dr6,
			       s->dbg.dr7, s->dbg.flags);
		return ret;
	case MIG_REC_CPU_LAPIC:
		ret = take(s, MIG_CPU_LAPIC, &s->lapic, sizeof(s->lapic), p, len, "LAPIC", id, err, errlen);
		if (ret == 0) {
			uint32_t apic_id;
			memcpy(&apic_id, &s->lapic.regs[0x20], 4);
			if (apic_id >> 24 != id)
				REJECT("vcpu%u: LAPIC ID %u does not match", id, apic_id >> 24);
		}
		return ret;
	case MIG_REC_CPU_MSRS:
		if (s->have & MIG_CPU_MSRS)
			REJECT("vcpu%u: MSRS received twice", id);
		if (aux > MIG_MAX_MSRS || len != aux * sizeof(s->msrs[0]))
			REJECT("vcpu%u: MSRS claims %u MSRs in %u bytes (limit %u)", id, aux, len, MIG_MAX_MSRS);
		memcpy(s->msrs, p, len);
		for (uint32_t i = 0; i < aux; i++) {
			if (!mig_msr_allowed(s->msrs[i].index) || s->msrs[i].reserved)
				REJECT("vcpu%u: MSR 0x%x may not be migrated", id, s->msrs[i].index);
			for (uint32_t j = 0; j < i; j++)
				if (s->msrs[j].index == s->msrs[i].index)
					REJECT("vcpu%u: MSR 0x%x listed twice", id, s->msrs[i].index);
		}
		s->nmsrs = aux;
		s->have |= MIG_CPU_MSRS;
		return 0;
	case MIG_REC_CPU_EVENTS:
		ret = take(s, MIG_CPU_EVENTS, &s->events, sizeof(s->events), p, len, "EVENTS", id, err, errlen);
		if (ret == 0 && (s->events.exception.nr >= 32 || s->events.flags & ~0x3fu ||
				 s->events.exception.injected > 1 || s->events.nmi.injected > 1 ||
				 s->events.nmi.pending > 1))
			REJECT("vcpu%u: event state (exception %u, flags 0x%x) invalid", id,
			       s->events.exception.nr, s->events.flags);
		return ret;
	default:
		REJECT("%s is not a CPU record", mig_rec_name(rec->type));
	}
}

int mig_cpu_rx_complete(const struct mig_vcpu_state *states, uint32_t n_vcpus, const struct mig_vm_state *vm,
			char *err, size_t errlen)
{
	for (uint32_t i = 0; i < n_vcpus; i++)
		if (states[i].have != MIG_CPU_ALL)
			REJECT("vcpu%u state incomplete (parts 0x%x of 0x%x)", i, states[i].have, MIG_CPU_ALL);
	if (vm->have != MIG_VM_ALL)
		REJECT("VM state incomplete (parts 0x%x of 0x%x)", vm->have, MIG_VM_ALL);
	return 0;
}
