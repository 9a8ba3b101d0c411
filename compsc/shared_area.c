/* The shared area: guest-side set-up and lock, hypervisor-side lock,
 * version, flag, staging, and the validator of a hostile copy. Layout and
 * protocol in shared_area.h. */
#include "shared_area.h"

#include "../common/csc_errno.h"
#include "../common/layout.h"
#include "regclass.h"
#include "util.h"

/* ---- guest side --------------------------------------------------------- */

int csc_area_init(struct csc_shared_area *a)
{
	unsigned it = 0;
	const struct vf_reg_info *r;

	csc_zero(a, sizeof(*a));
	a->magic = CSC_AREA_MAGIC;
	a->layout = CSC_AREA_LAYOUT;
	a->device = csc_regs_82576.device_id;
	a->size = sizeof(*a);
	while ((r = csc_reg_next(CSC_REG_IOMIGRATE, &it))) {
		if (a->n_ioregs >= CSC_AREA_MAX_IOREGS)
			return -E2BIG;
		a->ioregs[a->n_ioregs++].offset = r->offset;
	}
	if (csc_regset_count(&csc_regs_82576, CSC_REG_COUNTER) > CSC_AREA_MAX_COUNTERS)
		return -E2BIG;
	a->n_counters = csc_counters_setup(a->counters, CSC_AREA_MAX_COUNTERS);
	csc_rec_init(&a->rec);
	return 0;
}

int csc_area_add_dma(struct csc_shared_area *a, uint64_t gpa, uint64_t len)
{
	if (len == 0 || gpa + len < gpa)
		return -EINVAL;
	for (uint32_t i = 0; i < a->n_dma && i < CSC_AREA_MAX_DMA; i++)
		if (a->dma[i].gpa == gpa && a->dma[i].len == len)
			return 0;
	if (a->n_dma >= CSC_AREA_MAX_DMA)
		return -ENOSPC;
	a->dma[a->n_dma].gpa = gpa;
	a->dma[a->n_dma].len = len;
	a->n_dma++;
	return 0;
}

void csc_area_clear_dma(struct csc_shared_area *a)
{
	csc_zero(a->dma, sizeof(a->dma));
	a->n_dma = 0;
}

int csc_area_read_trylock(struct csc_shared_area *a)
{
	/* Enter first, then look for a writer: with both sides sequentially
	 * consistent, a writer that set its flag before our increment sees
	 * us in its readers check, or we see its flag here (or both). */
	__atomic_add_fetch(&a->readers, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&a->writer, __ATOMIC_SEQ_CST)) {
		__atomic_sub_fetch(&a->readers, 1, __ATOMIC_SEQ_CST);
		return -EBUSY;
	}
	/* The version only changes under the write lock: stable now. */
	return __atomic_load_n(&a->version, __ATOMIC_ACQUIRE) != a->restored;
}

int csc_area_read_lock(struct csc_shared_area *a)
{
	int ret;

	/* The writer holds the lock only for the stop-and-copy window (and
	 * the vCPU is normally paused during it), so spin. No PAUSE: under a
	 * nested hypervisor with pause-loop exiting every PAUSE becomes a
	 * ~30 us yield (docs/platform-notes.md). */
	while ((ret = csc_area_read_trylock(a)) < 0)
		while (__atomic_load_n(&a->writer, __ATOMIC_ACQUIRE))
			;
	return ret;
}

void csc_area_read_unlock(struct csc_shared_area *a)
{
	__atomic_sub_fetch(&a->readers, 1, __ATOMIC_SEQ_CST);
}

void csc_area_restored(struct csc_shared_area *a)
{
	a->restored = __atomic_load_n(&a->version, __ATOMIC_ACQUIRE);
}

int csc_area_migrating(const struct csc_shared_area *a)
{
	return __atomic_load_n(&a->migrating, __ATOMIC_ACQUIRE) != 0;
}

struct csc_counter *csc_area_counter(struct csc_shared_area *a, uint32_t offset)
{
	for (uint32_t i = 0; i < a->n_counters && i < CSC_AREA_MAX_COUNTERS; i++)
		if (a->counters[i].offset == offset)
			return &a->counters[i];
	return 0;
}

int csc_area_apply_ioregs(const struct csc_shared_area *a, int (*write)(void *ctx, uint32_t offset, uint32_t value),
			  void *ctx)
{
	int n = 0;

	for (uint32_t i = 0; i < a->n_ioregs && i < CSC_AREA_MAX_IOREGS; i++) {
		const struct csc_ioreg *r = &a->ioregs[i];
		if (csc_reg_class(r->offset) != CSC_REG_IOMIGRATE)
			continue;
		int ret = write(ctx, r->offset, r->value);
		if (ret)
			return ret;
		n++;
	}
	return n;
}

/* ---- hypervisor side ---------------------------------------------------- */

int csc_area_locate(uint64_t gpa, uint64_t ram_size, char *err, size_t errlen)
{
	struct csc_msg m;

	csc_msg_init(&m, err, errlen);
	if (gpa % CSC_AREA_ALIGN) {
		csc_msg_str(&m, "shared area at ");
		csc_msg_hex(&m, gpa);
		csc_msg_str(&m, " is not 64-byte aligned");
		return -EINVAL;
	}
	if (gpa < CSC_RESERVED_END) {
		csc_msg_str(&m, "shared area at ");
		csc_msg_hex(&m, gpa);
		csc_msg_str(&m, " is in the VMM-owned pages below 1 MiB");
		return -EINVAL;
	}
	if (gpa >= ram_size || ram_size - gpa < sizeof(struct csc_shared_area)) {
		csc_msg_str(&m, "shared area at ");
		csc_msg_hex(&m, gpa);
		csc_msg_str(&m, " (");
		csc_msg_dec(&m, sizeof(struct csc_shared_area));
		csc_msg_str(&m, " bytes) is not inside guest RAM (");
		csc_msg_hex(&m, ram_size);
		csc_msg_str(&m, " bytes)");
		return -EINVAL;
	}
	return 0;
}

int csc_area_try_write_lock(struct csc_shared_area *live, unsigned max_waits, void (*wait)(void *ctx), void *ctx)
{
	/* Set the flag, then look at the readers: the mirror image of
	 * csc_area_read_trylock. A guest that left the flag set itself
	 * changes nothing: we own it now. */
	__atomic_store_n(&live->writer, 1, __ATOMIC_SEQ_CST);
	for (unsigned i = 0;; i++) {
		if (__atomic_load_n(&live->readers, __ATOMIC_SEQ_CST) == 0)
			return 0;
		if (i >= max_waits)
			break;
		if (wait)
			wait(ctx);
	}
	/* The driver never left its op set (or the guest scribbled the
	 * count): give up, and let it go on as if nothing happened. */
	__atomic_store_n(&live->writer, 0, __ATOMIC_SEQ_CST);
	return -ETIMEDOUT;
}

void csc_area_write_unlock(struct csc_shared_area *live)
{
	__atomic_store_n(&live->writer, 0, __ATOMIC_SEQ_CST);
}

uint32_t csc_area_bump_version(struct csc_shared_area *live)
{
	return __atomic_add_fetch(&live->version, 1, __ATOMIC_SEQ_CST);
}

void csc_area_set_migrating(struct csc_shared_area *live, int on)
{
	__atomic_store_n(&live->migrating, on ? 1u : 0u, __ATOMIC_SEQ_CST);
}

int csc_area_stage_ioregs(struct csc_shared_area *live, const struct csc_shared_area *copy,
			  int (*read)(void *ctx, uint32_t offset, uint32_t *value), void *ctx)
{
	/* copy was validated: n_ioregs is within bounds and every offset is
	 * an I/O-migration register. */
	for (uint32_t i = 0; i < copy->n_ioregs && i < CSC_AREA_MAX_IOREGS; i++) {
		uint32_t value = 0;
		int ret = read(ctx, copy->ioregs[i].offset, &value);
		if (ret)
			return ret;
		live->ioregs[i].offset = copy->ioregs[i].offset;
		live->ioregs[i].value = value;
	}
	live->n_ioregs = copy->n_ioregs < CSC_AREA_MAX_IOREGS ? copy->n_ioregs : CSC_AREA_MAX_IOREGS;
	return 0;
}

int csc_area_stage_counters(struct csc_shared_area *live, const struct csc_shared_area *copy,
			    int (*read)(void *ctx, uint32_t offset, uint32_t *value), void *ctx)
{
	/* copy was validated: n_counters is within bounds and every offset
	 * is a counter register. */
	for (uint32_t i = 0; i < copy->n_counters && i < CSC_AREA_MAX_COUNTERS; i++) {
		struct csc_counter c = copy->counters[i];
		uint32_t raw = 0;
		int ret = read(ctx, c.offset, &raw);
		if (ret)
			return ret;
		csc_counter_update(&c, raw);
		live->counters[i] = c;
	}
	return 0;
}

/* ---- the validator ------------------------------------------------------ */

static int bad(struct csc_msg *m, const char *what, uint64_t v, const char *why)
{
	csc_msg_str(m, what);
	csc_msg_hex(m, v);
	csc_msg_str(m, why);
	return -EINVAL;
}

static int bad_entry(struct csc_msg *m, const char *list, uint32_t i, const char *what, uint64_t v,
		     const char *why)
{
	csc_msg_str(m, list);
	csc_msg_str(m, " ");
	csc_msg_dec(m, i);
	csc_msg_str(m, ": ");
	return bad(m, what, v, why);
}

static int bad_count(struct csc_msg *m, const char *what, uint32_t n, uint32_t max)
{
	csc_msg_str(m, what);
	csc_msg_str(m, " ");
	csc_msg_dec(m, n);
	csc_msg_str(m, " exceeds the bound ");
	csc_msg_dec(m, max);
	return -EINVAL;
}

/* Every offset in list[0..n) of class cls, none twice. */
static int check_reg_list(struct csc_msg *m, const char *list, const uint32_t *offsets, size_t stride, uint32_t n,
			  enum csc_reg_class cls)
{
	for (uint32_t i = 0; i < n; i++) {
		uint32_t off = *(const uint32_t *)((const uint8_t *)offsets + i * stride);
		enum csc_reg_class c = csc_reg_class(off);
		if (c != cls) {
			bad_entry(m, list, i, "offset ", off, " is not ");
			csc_msg_str(m, cls == CSC_REG_IOMIGRATE ? "an I/O-migration" : "a counter");
			csc_msg_str(m, " register (class ");
			csc_msg_str(m, csc_reg_class_name(c));
			csc_msg_str(m, ")");
			return -EINVAL;
		}
		for (uint32_t j = 0; j < i; j++)
			if (*(const uint32_t *)((const uint8_t *)offsets + j * stride) == off)
				return bad_entry(m, list, i, "offset ", off, " is listed twice");
	}
	return 0;
}

int csc_area_validate(const void *copy, size_t len, uint64_t ram_size, char *err, size_t errlen)
{
	/* One more private copy, aligned: the caller's buffer may be at any
	 * alignment, and from here on every field is read from memory the
	 * guest cannot change. */
	struct csc_shared_area a;
	struct csc_msg m;
	char sub[160];

	csc_msg_init(&m, err, errlen);
	if (!copy || len < sizeof(a)) {
		csc_msg_str(&m, "area copy is ");
		csc_msg_dec(&m, copy ? len : 0);
		csc_msg_str(&m, " bytes, the layout needs ");
		csc_msg_dec(&m, sizeof(a));
		return -EINVAL;
	}
	csc_copy(&a, copy, sizeof(a));

	if (a.magic != CSC_AREA_MAGIC)
		return bad(&m, "bad magic ", a.magic, " (not a CompSC shared area)");
	if (a.layout != CSC_AREA_LAYOUT)
		return bad(&m, "layout version ", a.layout, " unknown (this hypervisor knows 0x1)");
	if (a.device != csc_regs_82576.device_id)
		return bad(&m, "device ", a.device, " is not a VF personality this hypervisor knows");
	if (a.size != sizeof(a))
		return bad(&m, "size field ", a.size, " does not match the layout's size");
	if (a.reserved0)
		return bad(&m, "reserved header field is ", a.reserved0, ", not 0");
	if (a.migrating > 1)
		return bad(&m, "migrating flag is ", a.migrating, ", not 0 or 1");
	/* The lock words are not checked here: they are only ever used in
	 * the live area, atomically, and the bounded wait copes with any
	 * value a guest writes there. */

	if (a.n_ioregs > CSC_AREA_MAX_IOREGS)
		return bad_count(&m, "I/O-migration register count", a.n_ioregs, CSC_AREA_MAX_IOREGS);
	if (a.n_counters > CSC_AREA_MAX_COUNTERS)
		return bad_count(&m, "counter count", a.n_counters, CSC_AREA_MAX_COUNTERS);
	if (a.n_dma > CSC_AREA_MAX_DMA)
		return bad_count(&m, "DMA region count", a.n_dma, CSC_AREA_MAX_DMA);
	if (check_reg_list(&m, "I/O-migration register", &a.ioregs[0].offset, sizeof(a.ioregs[0]), a.n_ioregs,
			   CSC_REG_IOMIGRATE))
		return -EINVAL;
	if (check_reg_list(&m, "counter", &a.counters[0].offset, sizeof(a.counters[0]), a.n_counters,
			   CSC_REG_COUNTER))
		return -EINVAL;

	for (uint32_t i = 0; i < a.n_dma; i++) {
		const struct csc_dma_region *d = &a.dma[i];
		if (d->len == 0)
			return bad_entry(&m, "DMA region", i, "at ", d->gpa, " is empty");
		if (d->gpa + d->len < d->gpa)
			return bad_entry(&m, "DMA region", i, "at ", d->gpa, " wraps around the address space");
		if (d->gpa >= ram_size || d->len > ram_size - d->gpa) {
			bad_entry(&m, "DMA region", i, "[", d->gpa, ", ");
			csc_msg_hex(&m, d->gpa + d->len);
			csc_msg_str(&m, ") is beyond guest RAM (");
			csc_msg_hex(&m, ram_size);
			csc_msg_str(&m, " bytes)");
			return -EINVAL;
		}
	}

	if (csc_rec_validate(&a.rec, ram_size, sub, sizeof(sub))) {
		csc_msg_str(&m, "record: ");
		csc_msg_str(&m, sub);
		return -EINVAL;
	}
	/* A recorded ring whose descriptors are not in a registered DMA
	 * region would not be sent at stop-and-copy: the destination would
	 * resume on stale descriptors. */
	for (unsigned i = 0; i < CSC_REC_RINGS; i++) {
		const struct csc_ring_rec *r = &a.rec.rings[i];
		uint32_t j;
		if (!r->valid)
			continue;
		for (j = 0; j < a.n_dma; j++)
			if (r->base >= a.dma[j].gpa && r->base - a.dma[j].gpa <= a.dma[j].len &&
			    r->len <= a.dma[j].len - (r->base - a.dma[j].gpa))
				break;
		if (j == a.n_dma)
			return bad_entry(&m, "record: ring", i, "descriptors at ", r->base,
					 " are in no registered DMA region");
	}
	return 0;
}
